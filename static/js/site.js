/* Site-wide: the collapsible menu of narrow screens (no inline handlers: CSP without 'unsafe-inline'). */
(function () {
  "use strict";
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
