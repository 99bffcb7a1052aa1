/* Client's feedback form: answered counter, and a clear pointer to unanswered items on submit. */
(function () {
  "use strict";
  const form = document.getElementById("fb-form");
  if (!form) return;
  const items = Array.from(form.querySelectorAll(".fb-item[data-item]"));
  const total = items.length;
  const bar = document.getElementById("fb-progress-bar");
  const counter = document.getElementById("fb-answered");
  const missing = document.getElementById("fb-missing");
  const button = document.getElementById("fb-submit");

  function answered(item) { return item.querySelector("input[type=radio]:checked") !== null; }

  function update() {
    const n = items.filter(answered).length;
    counter.textContent = String(n);
    bar.style.width = (100 * n / total) + "%";
    items.forEach((item) => { if (answered(item)) item.classList.remove("fb-missing-item"); });
    if (n === total) missing.hidden = true;
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", (ev) => {
    const open = items.filter((item) => !answered(item));
    if (open.length) {
      ev.preventDefault();
      open.forEach((item) => item.classList.add("fb-missing-item"));
      missing.hidden = false;
      open[0].scrollIntoView({ behavior: "smooth", block: "center" });
      const first = open[0].querySelector("input");
      if (first) first.focus({ preventScroll: true });
      return;
    }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  });
  update();
})();
