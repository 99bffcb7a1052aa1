// Export form: show a "preparing" note while the streamed download starts.
(function () {
  "use strict";
  document.querySelectorAll("#export-form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var status = form.querySelector("[data-export-status]");
      if (!status) return;
      status.hidden = false;
      window.setTimeout(function () { status.hidden = true; }, 8000);
    });
  });
})();
