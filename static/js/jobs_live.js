// Live job progress (docs/jobs.md, "Live progress"; frames: docs/protocol.md, "Job progress socket").
// Subscribes to the jobs shown on this page ([data-job] progress components) on ws/jobs/ and updates them in
// place from the pushed "job" frames: bar, percent, step / total, state chip, message, log tail, and every
// element of the enclosing [data-job-scope] marked data-job-field="<frame field>". When a job finishes, its
// fragment is fetched once (htmx event "job-changed") for what only the server renders (results, buttons).
// The fragments' slow htmx polling (KOKORO_JOBS_POLL_S) stays as the fallback while the socket is down.
(function () {
  "use strict";
  var TERMINAL = { succeeded: true, failed: true, cancelled: true };
  var socket = null;
  var attempt = 0;
  var stopped = false;
  var subscribed = {};

  function refs() {
    var seen = {};
    var list = [];
    document.querySelectorAll("[data-job]").forEach(function (el) {
      var ref = el.getAttribute("data-job");
      if (ref && !seen[ref]) {
        seen[ref] = true;
        list.push(ref);
      }
    });
    return list;
  }

  function state(value) {
    document.documentElement.setAttribute("data-jobs-socket", value);
  }

  function subscribeNew() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    var fresh = refs().filter(function (ref) { return !subscribed[ref]; });
    if (!fresh.length) return;
    fresh.forEach(function (ref) { subscribed[ref] = true; });
    socket.send(JSON.stringify({ type: "subscribe", jobs: fresh }));
  }

  function setField(el, name, frame) {
    var value = frame[name];
    if (name === "bar") {
      el.setAttribute("aria-valuenow", String(frame.percent));
      el.setAttribute("data-status", frame.status);
      var fill = el.querySelector("span");
      if (fill) fill.style.width = frame.percent + "%";
    } else if (name === "status") {
      // The state chip: its label from data-label-<status>, its colour class (job-chip-*, pt-status-*, ...) swapped.
      el.textContent = el.getAttribute("data-label-" + frame.status) || frame.status;
      el.className = el.className.replace(/\b([a-z]+-(?:chip|status))-(queued|running|succeeded|failed|cancelled)\b/g,
        "$1-" + frame.status);
    } else if (name === "message") {
      el.textContent = frame.message || "";
      el.hidden = !frame.message;
    } else if (name === "log_tail") {
      if (!Array.isArray(value)) return;
      el.textContent = value.length ? value.join("\n") + "\n" : el.getAttribute("data-empty") || "";
      el.scrollTop = el.scrollHeight;
    } else if (value !== undefined && value !== null && typeof value !== "object") {
      el.textContent = String(value);
    }
  }

  function apply(frame) {
    document.querySelectorAll("[data-job]").forEach(function (root) {
      if (root.getAttribute("data-job") !== frame.job) return;
      var scope = root.closest("[data-job-scope]") || root;
      root.setAttribute("data-status", frame.status);
      root.setAttribute("data-pushed", String(frame.percent));
      scope.querySelectorAll("[data-job-field]").forEach(function (el) {
        var owner = el.closest("[data-job]");
        if (owner && owner !== root) return; // a field of another job's component
        setField(el, el.getAttribute("data-job-field"), frame);
      });
      // The fragment was rendered while the job ran: fetch its final form once (results, retry button).
      if (frame.terminal && scope.hasAttribute("hx-get") && !TERMINAL[scope.getAttribute("data-status")]) {
        scope.dispatchEvent(new CustomEvent("job-changed", { bubbles: false }));
      }
    });
  }

  function connect() {
    if (stopped || !refs().length) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/jobs/");
    subscribed = {};
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "hello") {
        attempt = 0;
        state("open");
        subscribeNew();
      } else if (frame.type === "job") {
        apply(frame);
      }
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      state("closed");
      // 4401 (not signed in / the login ended) and 4403 (not staff): no retry, the polling carries on.
      if (event.code === 4401 || event.code === 4403) {
        stopped = true;
        return;
      }
      var delay = Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
      window.setTimeout(connect, delay);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    state("connecting");
    connect();
  });
  // A fragment swapped in by the fallback polling may show jobs this socket does not follow yet.
  document.addEventListener("htmx:afterSwap", subscribeNew);
})();
