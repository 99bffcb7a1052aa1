/* Personal progress page: totals over sessions, aspect averages over sessions, item averages. */
(function () {
  "use strict";
  const C = window.KokoroFeedbackCharts;
  const data = C && C.readJSON("fb-progress-data");
  if (!data || !window.Chart) return;
  const totals = document.getElementById("fb-totals-chart");
  C.replace(totals, {
    type: "line",
    data: { labels: data.totals.labels, datasets: [{ label: "", data: data.totals.values, borderColor: "#2f6fdf", backgroundColor: "rgba(47,111,223,.12)", fill: true, tension: 0.25, pointRadius: 4 }] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
  });
  const aspects = document.getElementById("fb-aspects-chart");
  C.replace(aspects, {
    type: "line",
    data: { labels: data.aspects.labels, datasets: data.aspects.datasets.map((d) => Object.assign({ tension: 0.25, pointRadius: 2, backgroundColor: d.borderColor }, d)) },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 5 } }, plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
  });
  C.itemChart("fb-item-chart", data.items);
})();
