// Scheduling pages: keep the slot end after its start, confirm before cancelling, busy state on submit.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }
  // datetime-local value in the browser's local time (the platform assumes Japan time).
  function localValue(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function prefillSlotForm() {
    var form = document.getElementById("slot-form");
    if (!form) return;
    var from = form.querySelector("input[name=starts_at]");
    var until = form.querySelector("input[name=ends_at]");
    if (!from || !until) return;
    // The server fills in Japan-time defaults; here we only keep "until" after "from".
    if (from.value) until.min = from.value;
    from.addEventListener("change", function () {
      until.min = from.value;
      if (until.value && until.value <= from.value) {
        var d = new Date(from.value);
        until.value = localValue(new Date(d.getTime() + 60 * 60 * 1000));
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector("button[type=submit][data-busy-label]");
    if (button) {
      button.setAttribute("aria-busy", "true");
      button.textContent = button.getAttribute("data-busy-label");
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", prefillSlotForm);
  } else {
    prefillSlotForm();
  }
})();
