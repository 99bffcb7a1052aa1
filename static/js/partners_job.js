// Fine-tuning job page: loss curves (Chart.js) and ETA. Drawn from the progress fragment's history (page load,
// fragment swaps), and kept live by the pushed frames of ws/jobs/ (jobs_live.js dispatches each as "job-frame"):
// a frame carries the newest loss points, which are appended to the chart, and the ETA in seconds.
(function () {
  "use strict";
  var chart = null;
  var TERMINAL = ["succeeded", "failed", "cancelled"];
  var REFRESH_MS = 2000;
  var lastRefresh = 0;

  function readHistory() {
    var el = document.getElementById("pt-history");
    if (!el) return [];
    try { return JSON.parse(el.textContent) || []; } catch (e) { return []; }
  }

  function split(history) {
    var train = [], evals = [];
    history.forEach(function (p) {
      if (typeof p.loss === "number") train.push({ x: p.step, y: p.loss });
      if (typeof p.eval_loss === "number") evals.push({ x: p.step, y: p.eval_loss });
    });
    return [train, evals];
  }

  function draw() {
    var canvas = document.getElementById("pt-loss-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var labels = document.getElementById("pt-labels").dataset;
    var history = readHistory();
    var series = split(history);
    document.getElementById("pt-chart-empty").hidden = history.length > 0;
    if (chart) {
      chart.data.datasets[0].data = series[0];
      chart.data.datasets[1].data = series[1];
      chart.update("none");
      return;
    }
    chart = new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: labels.train, data: series[0], borderColor: "#2f6fdf", backgroundColor: "#2f6fdf", pointRadius: 0, borderWidth: 2, tension: 0.2 },
          { label: labels.eval, data: series[1], borderColor: "#c0392b", backgroundColor: "#c0392b", pointRadius: 4, borderWidth: 2 }
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

  function lastX(data) {
    return data.length ? data[data.length - 1].x : -1;
  }

  // The pushed points newer than the chart's last one are appended. When none of them reaches back to the chart
  // (frames were missed: the socket was down), the fragment is fetched for the whole history, at most every 2 s.
  function appendPoints(frame) {
    if (!chart || !Array.isArray(frame.loss_points) || !frame.loss_points.length) return;
    var pushed = split(frame.loss_points);
    var added = 0;
    var known = Math.max(lastX(chart.data.datasets[0].data), lastX(chart.data.datasets[1].data));
    [0, 1].forEach(function (i) {
      var data = chart.data.datasets[i].data;
      var last = lastX(data);
      pushed[i].forEach(function (point) {
        if (point.x > last) {
          data.push(point);
          last = point.x;
          added += 1;
        }
      });
    });
    if (added) {
      chart.update("none");
      document.getElementById("pt-chart-empty").hidden = true;
    }
    var gap = frame.loss_count > frame.loss_points.length && frame.loss_points[0].step > known;
    var section = document.getElementById("pt-progress");
    if (gap && section && section.hasAttribute("hx-get") && Date.now() - lastRefresh >= REFRESH_MS) {
      lastRefresh = Date.now();
      section.dispatchEvent(new CustomEvent("job-changed", { bubbles: false }));
    }
  }

  // "%(s)s s" / "%(m)s min" / "%(h)s h %(m)02d min" in the page's language (the pt_duration filter's formats).
  function duration(seconds, formats) {
    if (seconds < 60) return formats.formatS.replace("%(s)s", String(seconds));
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return formats.formatM.replace("%(m)s", String(minutes));
    var rest = minutes % 60;
    return formats.formatHm.replace("%(h)s", String(Math.floor(minutes / 60)))
      .replace("%(m)02d", (rest < 10 ? "0" : "") + rest);
  }

  function showEta(frame) {
    var box = document.getElementById("pt-eta");
    if (!box) return;
    var seconds = frame.eta_seconds;
    box.hidden = typeof seconds !== "number";
    if (typeof seconds === "number") {
      box.textContent = box.dataset.label + " " + duration(seconds, box.dataset);
      box.setAttribute("data-seconds", String(seconds));
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("job-frame", function (event) {
    var frame = event.detail;
    if (!frame || !event.target.closest || !event.target.closest("#pt-progress")) return;
    appendPoints(frame);
    showEta(frame);
  });
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
