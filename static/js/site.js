// Behaviour shared by every page (no inline handlers: the Content-Security-Policy allows
// scripts from this site only).
(function () {
  "use strict";
  // <select data-autosubmit>: submit its form on change (the language menu).
  document.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });
})();
