// Bradley-Terry rating bar charts (Chart.js), one per leaderboard (human, LLM), with the bootstrap interval
// drawn as a floating bar behind each rating.
(function () {
  "use strict";
  var source = document.getElementById("ar-chart-data");
  if (!source || typeof Chart === "undefined") return;
  var all = JSON.parse(source.textContent);
  document.querySelectorAll("canvas.ar-rating-chart").forEach(function (canvas) {
    var data = all[canvas.dataset.board];
    if (!data) return;
    var intervals = data.models.map(function (_m, i) {
      return data.low[i] === null ? null : [data.low[i], data.high[i]];
    });
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.models,
        datasets: [
          { label: "Bradley-Terry", data: data.rating, backgroundColor: "rgba(37, 99, 235, 0.7)" },
          { label: "95% CI", data: intervals, backgroundColor: "rgba(148, 163, 184, 0.45)" },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: true,
        scales: { x: { suggestedMin: 900, suggestedMax: 1100 } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  });
})();
