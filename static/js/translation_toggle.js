// Side-by-side transcripts: the toggle (original / translation / both) sets data-tr-view on its
// target; CSS (site.css) shows the matching texts. Loaded once per page whatever the number of toggles.
(function () {
  "use strict";
  if (window.kokoroTranslationToggle) return;
  window.kokoroTranslationToggle = true;
  const chosen = {};
  function apply(group) {
    const selector = group.getAttribute("data-tr-target");
    const target = document.querySelector(selector);
    const view = chosen[selector];
    if (!target || !view) return;
    target.setAttribute("data-tr-view", view);
    group.querySelectorAll("[data-tr-view]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-tr-view") === view ? "true" : "false");
    });
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-tr-view]");
    if (!button) return;
    const group = button.closest("[data-tr-target]");
    if (!group) return;
    chosen[group.getAttribute("data-tr-target")] = button.getAttribute("data-tr-view");
    apply(group);
  });
  // A part of the page replaced by htmx (the coaching timeline while suggestions are computed)
  // keeps the view chosen on this page.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-tr-target]").forEach(apply);
  });
})();
