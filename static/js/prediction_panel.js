/* The auto-scorer's panel: re-fetched from the server when a "prediction" or "feedback" frame
   for this session arrives. Relies on the page dispatching every server frame as
   window "kokoro:event" CustomEvents ({detail: frame}). Text comes from the server-rendered
   fragment; the chart reads its data from a json_script element (no user text in JS). */
(function () {
  "use strict";
  const panel = document.getElementById("ml-prediction");
  if (!panel) return;
  const sessionId = Number(panel.dataset.sessionId);
  let chart = null;
  let inFlight = false;

  function strings() {
    const out = {};
    document.querySelectorAll("#ml-chart-strings [data-k]").forEach((el) => { out[el.dataset.k] = el.textContent; });
    return out;
  }

  function draw() {
    const dataEl = document.getElementById("ml-chart-data");
    const canvas = document.getElementById("ml-chart");
    if (chart) { chart.destroy(); chart = null; }
    if (!dataEl || !canvas || !window.Chart) return;
    const data = JSON.parse(dataEl.textContent);
    if (!data) return;
    const s = strings();
    const datasets = [{ label: s.predicted, data: data.predicted, backgroundColor: "rgba(54, 120, 200, 0.7)" }];
    if (data.actual) datasets.push({ label: s.actual, data: data.actual, backgroundColor: "rgba(230, 140, 40, 0.7)" });
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets },
      options: { responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 5, ticks: { stepSize: 1 } } } },
    });
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const response = await fetch(panel.dataset.url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (response.ok) {
        panel.innerHTML = await response.text();
        panel.classList.add("ml-updated");
        draw();
      }
    } catch (err) {
      /* offline: the next frame or a reload shows the stored prediction */
    } finally {
      inFlight = false;
    }
  }

  window.addEventListener("kokoro:event", (ev) => {
    const frame = ev.detail || {};
    if (frame.session_id !== undefined && Number(frame.session_id) !== sessionId) return;
    if (frame.type === "prediction" || frame.type === "feedback") refresh();
    else if (frame.type === "hello") {
      const body = document.getElementById("ml-prediction-body");
      if (body && body.dataset.status === "pending") refresh(); /* catch up after a reconnect */
    }
  });
  /* A prediction that is pending or waits for a scorer is polled too: it updates without a socket. */
  window.setInterval(() => {
    const body = document.getElementById("ml-prediction-body");
    if (body && (body.dataset.status === "pending" || body.dataset.status === "waiting")) refresh();
  }, 5000);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
  window.KokoroPredictionPanel = { refresh };
})();
