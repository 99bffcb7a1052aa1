/* The AI practice review page: listens on the session socket and re-dispatches every frame as a window
   "kokoro:event" (the auto-scorer's panel refreshes on "prediction"). While a prediction is pending and the
   socket is down, the panel is re-fetched every 5 s instead. */
(function () {
  "use strict";
  const el = document.getElementById("practice-review-config");
  if (!el) return;
  const config = JSON.parse(el.textContent);
  let retry = 0;
  let connected = false;

  function pending() {
    const body = document.getElementById("ml-prediction-body");
    return body && body.dataset.status === "pending";
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + config.ws_path);
    socket.addEventListener("open", () => { connected = true; retry = 0; });
    socket.addEventListener("message", (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (err) { return; }
      window.dispatchEvent(new CustomEvent("kokoro:event", { detail: frame }));
    });
    socket.addEventListener("close", (ev) => {
      connected = false;
      if (ev.code === 4401 || ev.code === 4403) return;
      retry = Math.min(retry + 1, 6);
      window.setTimeout(connect, 500 * 2 ** retry);
    });
  }

  window.setInterval(() => {
    if (!connected && pending() && window.KokoroPredictionPanel) window.KokoroPredictionPanel.refresh();
  }, 5000);
  connect();
})();
