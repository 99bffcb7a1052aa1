// Live job progress (docs/jobs.md, "Live progress"; frames: docs/protocol.md, "Job progress socket").
// Subscribes to the jobs shown on this page ([data-job] progress components) on ws/jobs/ and updates them in
// place from the pushed "job" frames: bar, percent, step / total, state chip, message, log tail, and every
// element of the enclosing [data-job-scope] marked data-job-field="<frame field>" (data-job-show="<field>": shown
// while the field is set). When a job finishes, its fragment is fetched once (htmx event "job-changed") for what
// only the server renders (results, buttons).
// A scope marked data-job-refresh (the arena's per-session tables) is also fetched on a frame that changed the
// job, at most once every REFRESH_MS. Every frame is also dispatched on its component as the DOM event
// "job-frame" (detail: the frame) for a page's own script (the fine-tuning page's loss chart and ETA).
// The fragments' slow htmx polling (KOKORO_JOBS_POLL_S) stays as the fallback while the socket is down.
// A component rendered in a finished state is not subscribed: a finished job does not change any more.
(function () {
  "use strict";
  var TERMINAL = { succeeded: true, failed: true, cancelled: true };
  var socket = null;
  var attempt = 0;
  var stopped = false;
  var subscribed = {};
  var REFRESH_MS = 2000;
  var lastFrame = {}; // job ref -> the last frame applied (JSON), to refresh only on a change
  var refreshAt = {}; // job ref -> when its scope was last fetched
  var refreshTimer = {};

  function refs() {
    var seen = {};
    var list = [];
    document.querySelectorAll("[data-job]").forEach(function (el) {
      var ref = el.getAttribute("data-job");
      if (ref && !seen[ref] && !TERMINAL[el.getAttribute("data-status")]) {
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

  // Fetch the job's refreshable scope (hx-get + data-job-refresh) now, or once REFRESH_MS after the last fetch.
  function refresh(ref) {
    if (refreshTimer[ref]) return;
    var wait = (refreshAt[ref] || 0) + REFRESH_MS - Date.now();
    refreshTimer[ref] = window.setTimeout(function () {
      refreshTimer[ref] = null;
      refreshAt[ref] = Date.now();
      document.querySelectorAll("[data-job-refresh][hx-get]").forEach(function (scope) {
        var root = scope.querySelector("[data-job]");
        if (root && root.getAttribute("data-job") === ref) {
          scope.dispatchEvent(new CustomEvent("job-changed", { bubbles: false }));
        }
      });
    }, Math.max(0, wait));
  }

  function changed(frame) {
    var text = JSON.stringify(frame);
    var before = lastFrame[frame.job];
    lastFrame[frame.job] = text;
    return before !== undefined && before !== text;
  }

  function apply(frame) {
    var isChange = changed(frame);
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
      // data-job-show="<frame field>": shown while that field is set (e.g. "(2 failed)" once a failure counts).
      scope.querySelectorAll("[data-job-show]").forEach(function (el) {
        var owner = el.closest("[data-job]");
        if (!owner || owner === root) el.hidden = !frame[el.getAttribute("data-job-show")];
      });
      root.dispatchEvent(new CustomEvent("job-frame", { bubbles: true, detail: frame }));
      // The fragment was rendered while the job ran: fetch its final form once (results, retry button).
      if (frame.terminal && scope.hasAttribute("hx-get") && !TERMINAL[scope.getAttribute("data-status")]) {
        scope.dispatchEvent(new CustomEvent("job-changed", { bubbles: false }));
      } else if (isChange && !frame.terminal && scope.hasAttribute("data-job-refresh")) {
        refresh(frame.job);
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
