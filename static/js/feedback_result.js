/* Counselor's result page: listens on the session socket and shows the feedback when it arrives.
   Every frame is re-dispatched as `kokoro:event` on window (other panels, e.g. the auto-scorer's
   prediction, listen to it). On a "feedback" frame, and after every (re)connect, the result body
   is re-fetched from the server (the socket is only a hint). */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("fb-result-config").textContent);
  const root = document.getElementById("fb-result");
  const live = document.getElementById("fb-live");
  const liveText = document.getElementById("fb-live-text");
  const strings = {};
  document.querySelectorAll("#fb-live-strings [data-msg]").forEach((el) => { strings[el.dataset.msg] = el.textContent; });
  let hasFeedback = config.has_feedback;
  let receivedLive = false;
  let retry = 0;
  let socket = null;

  function setLive(state, text) {
    live.dataset.state = state;
    liveText.textContent = text || "";
  }

  function drawCharts() {
    if (window.KokoroFeedbackCharts) window.KokoroFeedbackCharts.itemChart("fb-item-chart", "fb-item-chart-data");
  }

  async function refresh(highlight) {
    try {
      const response = await fetch(config.fragment_url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
      if (!response.ok) return;
      root.innerHTML = await response.text();
      const body = document.getElementById("fb-result-body");
      if (body) {
        hasFeedback = true;
        if (highlight) {
          body.classList.add("fb-updated");
          receivedLive = true;
          setLive("live", strings.received);
        }
        drawCharts();
      }
    } catch (err) {
      /* network error: the next reconnect refreshes again */
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + config.ws_path);
    socket.addEventListener("open", () => {
      retry = 0;
      if (!receivedLive) setLive("live", hasFeedback ? strings.connected : strings.live);
    });
    socket.addEventListener("message", (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (err) { return; }
      window.dispatchEvent(new CustomEvent("kokoro:event", { detail: frame }));
      if (frame.type === "feedback" && frame.session_id === config.session_id) {
        refresh(true);
      } else if (frame.type === "hello" && !hasFeedback) {
        refresh(false); /* catch up on a feedback sent while we were offline */
      }
    });
    socket.addEventListener("close", (ev) => {
      if (ev.code === 4401 || ev.code === 4403) { setLive("offline", ""); return; }
      setLive("offline", strings.offline);
      if (!hasFeedback) refresh(false); /* the socket is down: look directly */
      retry = Math.min(retry + 1, 6);
      window.setTimeout(connect, 500 * 2 ** retry);
    });
  }

  drawCharts();
  connect();
  window.KokoroFeedbackResult = { refresh, socket: () => socket };
})();
