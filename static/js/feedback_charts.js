/* Shared Chart.js helpers of the feedback pages (no build step, no globals but KokoroFeedbackCharts). */
(function () {
  "use strict";
  const charts = new Map();

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function replace(canvas, config) {
    const old = charts.get(canvas.id);
    if (old) old.destroy();
    const chart = new window.Chart(canvas, config);
    charts.set(canvas.id, chart);
    return chart;
  }

  /* Horizontal bars of the 20 items, one dataset per aspect (so the legend names the aspects). */
  function itemChart(canvasId, dataOrId) {
    const canvas = document.getElementById(canvasId);
    const data = typeof dataOrId === "string" ? readJSON(dataOrId) : dataOrId;
    if (!canvas || !data || !window.Chart) return null;
    return replace(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map((d) => Object.assign({ skipNull: true, grouped: false, borderRadius: 4, barPercentage: 0.8 }, d)),
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: { duration: 400 },
        scales: {
          x: { min: 0, max: data.max, ticks: { stepSize: 1 } },
          y: { ticks: { autoSkip: false, font: { size: 11 },
            callback(value) { const l = this.getLabelForValue(value); return l.length > 28 ? l.slice(0, 27) + "…" : l; } } },
        },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }

  window.KokoroFeedbackCharts = { itemChart, replace, readJSON };
})();
