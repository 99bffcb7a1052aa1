/* Live unread badge of the top bar: ws/notifications/ pushes the count; the text of the newest one
 * is fetched in the page's language and announced to screen readers. No inline script: the socket
 * path and the badge URL come from data- attributes of #notif-bell. */
(function () {
  "use strict";
  const bell = document.getElementById("notif-bell");
  const count = document.getElementById("notif-count");
  const live = document.getElementById("notif-live");
  if (!bell || !count || !window.WebSocket) return;
  let attempt = 0;
  let shown = Number(count.textContent) || 0;

  function render(n) {
    count.textContent = String(n);
    count.hidden = n <= 0;
    bell.dataset.unread = String(n);
  }

  function announce() {
    fetch(bell.dataset.badgeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => { if (data && data.latest && live) live.textContent = data.latest; })
      .catch(() => {});
  }

  function connect() {
    const proto = window.location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + window.location.host + bell.dataset.wsPath);
    ws.addEventListener("open", () => { attempt = 0; });
    ws.addEventListener("message", (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.type !== "notification" || typeof frame.unread !== "number") return;
      if (frame.unread > shown) announce();
      shown = frame.unread;
      render(frame.unread);
    });
    ws.addEventListener("close", (ev) => {
      if (ev.code === 4401) return;
      const delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      window.setTimeout(connect, delay);
    });
  }

  window.kokoroNotifications = { unread: () => Number(count.textContent) || 0 };
  connect();
})();
