// Fine-tuning job page: loss curves (Chart.js) redrawn from the htmx-polled progress fragment.
(function () {
  "use strict";
  var chart = null;
  var TERMINAL = ["succeeded", "failed", "cancelled"];

  function readHistory() {
    var el = document.getElementById("pt-history");
    if (!el) return [];
    try { return JSON.parse(el.textContent) || []; } catch (e) { return []; }
  }

  function draw() {
    var canvas = document.getElementById("pt-loss-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var labels = document.getElementById("pt-labels").dataset;
    var history = readHistory();
    var train = [], evals = [];
    history.forEach(function (p) {
      if (typeof p.loss === "number") train.push({ x: p.step, y: p.loss });
      if (typeof p.eval_loss === "number") evals.push({ x: p.step, y: p.eval_loss });
    });
    document.getElementById("pt-chart-empty").hidden = history.length > 0;
    if (chart) {
      chart.data.datasets[0].data = train;
      chart.data.datasets[1].data = evals;
      chart.update("none");
      return;
    }
    chart = new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: labels.train, data: train, borderColor: "#2f6fdf", backgroundColor: "#2f6fdf", pointRadius: 0, borderWidth: 2, tension: 0.2 },
          { label: labels.eval, data: evals, borderColor: "#c0392b", backgroundColor: "#c0392b", pointRadius: 4, borderWidth: 2 }
        ]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: { type: "linear", title: { display: true, text: labels.step } }, y: { beginAtZero: false } }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var section = document.getElementById("pt-progress");
    if (!section) return;
    draw();
    // The job just finished: reload once so that the actions (retry) and the model version appear.
    if (TERMINAL.indexOf(section.dataset.status) >= 0 && !document.body.dataset.ptReloaded) {
      document.body.dataset.ptReloaded = "1";
      window.location.reload();
    }
  });
})();
