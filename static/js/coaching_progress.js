/* Skills over sessions, coaching's panel on feedback's progress page (templates/coaching/_progress_skills.html):
   predicted vs actual totals and items, question/reflection ratios, response time. Data: "fb-skills-data"
   (models_ml.coaching.selectors.counselor_skill_progress). Uses feedback_charts.js's helpers when the page has them. */
(function () {
  "use strict";
  const C = window.KokoroFeedbackCharts;
  const el = document.getElementById("fb-skills-data");
  if (!el || !window.Chart) return;
  const d = JSON.parse(el.textContent);
  const pct = (xs) => xs.map((v) => (v === null ? null : Math.round(v * 1000) / 10));
  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    if (C && C.replace) C.replace(canvas, config); else new window.Chart(canvas, config);
  };
  const line = (label, data, color) => ({ label: label, data: data, borderColor: color, backgroundColor: color, tension: 0.25, pointRadius: 3, spanGaps: true });
  const t = (key, fallback) => (document.getElementById("fb-skills") && document.getElementById("fb-skills").dataset[key]) || fallback;
  draw("fb-predicted-chart", {
    type: "line",
    data: { labels: d.labels, datasets: [line(t("predicted", "Predicted"), d.predicted_total, "#8a5cd1"), line(t("actual", "Actual"), d.actual_total, "#2f6fdf")] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } }, plugins: { legend: { position: "bottom" } } },
  });
  draw("fb-pred-items-chart", {
    type: "bar",
    data: { labels: d.item_labels, datasets: [
      { label: t("predicted", "Predicted"), data: d.predicted_items, backgroundColor: "#8a5cd1" },
      { label: t("actual", "Actual"), data: d.actual_items, backgroundColor: "#2f6fdf" }] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 5 } }, plugins: { legend: { position: "bottom" } } },
  });
  draw("fb-signals-chart", {
    type: "line",
    data: { labels: d.labels, datasets: [line(t("questions", "Questions %"), pct(d.question_ratio), "#e07b39"), line(t("reflections", "Reflections %"), pct(d.reflection_ratio), "#2e9e5b")] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } }, plugins: { legend: { position: "bottom" } } },
  });
  draw("fb-response-chart", {
    type: "line",
    data: { labels: d.labels, datasets: [line(t("response", "Seconds"), d.response_s, "#2f6fdf")] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0 } }, plugins: { legend: { display: false } } },
  });
})();
