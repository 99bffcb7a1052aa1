// Behaviour shared by every page (no inline handlers: the Content-Security-Policy allows
// scripts from this site only).
(function () {
  "use strict";
  // <select data-autosubmit>: submit its form on change (the language menu).
  document.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  // The collapsible menu of narrow screens.
  const toggle = document.getElementById("nav-toggle");
  const bar = toggle && toggle.closest(".topbar");
  if (!bar) return;
  document.documentElement.classList.add("js-nav");
  toggle.addEventListener("click", () => {
    const open = !bar.classList.contains("nav-open");
    bar.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
