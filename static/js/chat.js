/* KokoroChat session room: realtime chat over ws/sessions/<id>/ (frames: docs/protocol.md).
 * Vanilla JS; user text is only ever set through textContent. */
(function () {
  "use strict";
  const cfgEl = document.getElementById("chat-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const t = cfg.i18n || {};
  const $ = (id) => document.getElementById(id);
  const list = $("chat-messages");
  const scroller = $("chat-scroll");
  const form = $("chat-form");
  const input = $("chat-input");
  const sendBtn = $("chat-send");
  const errorBox = $("chat-error");
  const typingBox = $("chat-typing");
  const presenceBox = $("chat-presence");
  const connBox = $("chat-conn");
  const countdownBox = $("chat-countdown");
  const endedBox = $("chat-ended");
  const nextLink = $("chat-next");
  const emptyBox = $("chat-empty");
  const endForm = $("chat-end-form");
  const reasonBox = $("chat-composer-reason");
  const waitingBox = $("chat-waiting");
  const waitingCountdown = $("waiting-countdown");
  const partnerArrival = $("arrival-partner");
  const startNowForm = $("chat-start-now");

  const myRole = cfg.role;
  const mineRole = myRole === "observer" ? "client" : myRole;
  const CLOSE_NO_RETRY = [4401, 4403];
  let status = cfg.status;
  let endsAt = Date.parse(cfg.ends_at);
  let startsAt = Date.parse(cfg.starts_at);
  let offset = Date.parse(cfg.server_time) - Date.now();
  let lastSeq = cfg.last_seq || 0;
  const seen = new Set();
  list.querySelectorAll("li[data-seq]").forEach((li) => seen.add(Number(li.dataset.seq)));
  const buffered = new Map();
  const pending = new Map(); // client_msg_id -> {text, li}
  let ws = null;
  let connected = false;
  let attempt = 0;
  let welcomed = false; // a hello arrived: a later 4401 means the login ended (log-out, password change, expiry)
  let reconnectTimer = null;
  let syncInFlight = false;
  let typingSentAt = 0;
  let typingStopTimer = null;
  let partnerTypingTimer = null;
  let ended = status === "ended" || status === "cancelled";
  let connections = 0;
  let partnerOnline = false;

  const now = () => Date.now() + offset;
  const pad = (n) => String(n).padStart(2, "0");
  const clock = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit", minute: "2-digit", hour12: false, timeZone: cfg.time_zone || undefined,
  });
  const hhmm = (iso) => clock.format(new Date(iso));
  const newId = () => (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);

  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }

  function bubble(role, text, timeText, iso) {
    const li = document.createElement("li");
    li.className = "msg " + (role === mineRole ? "msg-mine" : "msg-theirs") + " msg-" + role;
    const b = document.createElement("div");
    b.className = "bubble";
    b.textContent = text;
    const tm = document.createElement("time");
    tm.className = "msg-time";
    if (iso) tm.dateTime = iso;
    tm.textContent = timeText;
    li.append(b, tm);
    return li;
  }

  function append(frame) {
    const stick = nearBottom() || frame.role === myRole;
    const li = bubble(frame.role, frame.text, hhmm(frame.created_at), frame.created_at);
    li.dataset.seq = frame.seq;
    const p = frame.client_msg_id && pending.get(frame.client_msg_id);
    if (p) { p.li.remove(); pending.delete(frame.client_msg_id); }
    // Keep pending bubbles last.
    const firstPending = list.querySelector("li.msg-pending");
    list.insertBefore(li, firstPending);
    seen.add(frame.seq);
    if (emptyBox) emptyBox.hidden = true;
    // Other scripts (the AI partner's provisional bubble) learn that a stored message is shown.
    document.dispatchEvent(new CustomEvent("kokoro:message", { detail: frame }));
    if (stick) toBottom();
  }

  function apply(frame) {
    if (seen.has(frame.seq) || frame.seq <= lastSeq) { dropPending(frame.client_msg_id); return; }
    if (frame.seq > lastSeq + 1) { buffered.set(frame.seq, frame); requestSync(); return; }
    append(frame);
    lastSeq = frame.seq;
    while (buffered.has(lastSeq + 1)) {
      const next = buffered.get(lastSeq + 1);
      buffered.delete(lastSeq + 1);
      append(next);
      lastSeq = next.seq;
    }
  }

  function dropPending(id) {
    const p = id && pending.get(id);
    if (p) { p.li.remove(); pending.delete(id); }
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function requestSync() {
    if (syncInFlight) return;
    if (send({ type: "sync", after: lastSeq })) syncInFlight = true;
  }

  function showError(text) {
    if (!errorBox) return;
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function setConn(text, ok) {
    if (!connBox) return;
    connBox.textContent = text;
    connBox.dataset.ok = ok ? "true" : "false";
  }

  function canSend() {
    return connected && !ended && myRole !== "observer" && now() >= startsAt && now() < endsAt;
  }

  function waiting() {
    return !ended && status === "scheduled" && now() < startsAt;
  }

  // Why Send is disabled, always shown next to the composer (the draft is never dropped).
  function composerReason() {
    if (ended || myRole === "observer") return "";
    if (waiting()) return t.waiting_reason || "";
    if (!connected) return t.not_connected || "";
    return "";
  }

  function refreshComposer() {
    if (!input) return;
    const ok = canSend();
    // The text box stays usable while waiting or offline: a draft can be written and is kept.
    input.disabled = ended || myRole === "observer";
    sendBtn.disabled = !ok;
    if (form) form.hidden = ended;
    if (endForm) endForm.hidden = ended || status !== "live";
    if (reasonBox) {
      const reason = composerReason();
      if (reasonBox.textContent !== reason) reasonBox.textContent = reason;
      reasonBox.hidden = !reason;
    }
    refreshWaiting();
  }

  function refreshWaiting() {
    if (!waitingBox) return;
    const isWaiting = waiting();
    waitingBox.hidden = !isWaiting;
    if (partnerArrival) {
      partnerArrival.dataset.online = partnerOnline ? "true" : "false";
      const state = partnerArrival.querySelector(".arrival-state");
      const text = partnerOnline ? t.here : t.not_here;
      if (state && state.textContent !== text) state.textContent = text;
    }
    if (startNowForm) {
      const inWindow = startsAt - now() <= (cfg.start_now_window_s || 0) * 1000;
      startNowForm.hidden = !(isWaiting && connected && partnerOnline && inWindow);
    }
  }

  function flashReason() {
    if (!reasonBox || reasonBox.hidden) return;
    reasonBox.classList.remove("flash");
    void reasonBox.offsetWidth; // restart the highlight
    reasonBox.classList.add("flash");
  }

  function onEnded(frame) {
    ended = true;
    status = "ended";
    refreshComposer();
    if (typingBox) typingBox.hidden = true;
    if (endedBox) endedBox.hidden = false;
    const url = frame && frame.next_url;
    if (url && nextLink) nextLink.href = url;
    if (url && myRole !== "observer" && url !== window.location.pathname && frame.type === "ended") {
      setConn(t.moving_on || "", true);
      window.setTimeout(() => { window.location.assign(url); }, 2500);
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        welcomed = true;
        status = frame.status;
        endsAt = Date.parse(frame.ends_at);
        startsAt = Date.parse(frame.starts_at);
        offset = Date.parse(frame.server_time) - Date.now();
        if (status === "ended" || status === "cancelled") onEnded(frame);
        break;
      case "message": apply(frame); break;
      case "sync":
        syncInFlight = false;
        frame.messages.forEach(apply);
        if (frame.has_more || buffered.size) requestSync();
        break;
      case "ack":
        // The ack carries the stored message: it replaces the pending bubble in seq order.
        if (frame.message) apply(frame.message);
        else dropPending(frame.client_msg_id);
        break;
      case "error": {
        showError(frame.message);
        const p = frame.client_msg_id && pending.get(frame.client_msg_id);
        if (p) {
          if (input && !input.value) input.value = p.text;
          dropPending(frame.client_msg_id);
        }
        if (frame.code === "ended") onEnded(null);
        break;
      }
      case "typing":
        if (frame.role !== myRole && typingBox) {
          typingBox.textContent = t.typing || "";
          typingBox.hidden = !frame.typing;
          clearTimeout(partnerTypingTimer);
          if (frame.typing) partnerTypingTimer = setTimeout(() => { typingBox.hidden = true; }, 6000);
        }
        break;
      case "presence":
        if (frame.role !== myRole && presenceBox && myRole !== "observer") {
          partnerOnline = !!frame.online;
          presenceBox.dataset.online = frame.online ? "true" : "false";
          presenceBox.textContent = frame.online ? t.online : t.offline;
          if (!frame.online && typingBox) typingBox.hidden = true;
        }
        break;
      case "started":
        status = "live";
        if (frame.starts_at) startsAt = Date.parse(frame.starts_at);
        if (frame.ends_at) endsAt = Date.parse(frame.ends_at);
        refreshComposer();
        break;
      case "ended": onEnded(frame); break;
      case "pong": break;
      default:
        // Events pushed by other parts (feedback, predictions): let their scripts listen.
        document.dispatchEvent(new CustomEvent("kokoro:session-event", { detail: frame }));
    }
    refreshComposer();
  }

  function connect() {
    clearTimeout(reconnectTimer);
    const proto = window.location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + window.location.host + cfg.ws_path);
    connections += 1;
    ws.addEventListener("open", () => {
      connected = true;
      attempt = 0;
      syncInFlight = false;
      setConn(t.connected || "", true);
      requestSync();
      // Resend what was not acknowledged: the server dedupes by client_msg_id.
      pending.forEach((p, id) => send({ type: "message", text: p.text, client_msg_id: id }));
      refreshComposer();
    });
    ws.addEventListener("message", (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      handle(frame);
    });
    ws.addEventListener("close", (ev) => {
      connected = false;
      syncInFlight = false;
      refreshComposer();
      partnerOnline = false;
      if (presenceBox && myRole !== "observer") { presenceBox.dataset.online = "false"; presenceBox.textContent = t.offline; }
      // The login ended: reload, which shows the log-in page (or reconnects if still signed in).
      if (ev.code === 4401 && welcomed) { window.location.reload(); return; }
      if (CLOSE_NO_RETRY.includes(ev.code)) { setConn("", false); return; }
      setConn(t.reconnecting || "", false);
      const delay = Math.min(15000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      reconnectTimer = setTimeout(connect, delay);
    });
  }

  function submit() {
    if (!input) return;
    const text = input.value;
    if (!text.trim()) return;
    if (text.length > cfg.max_chars) { showError(t.too_long || ""); return; }
    showError("");
    const id = newId();
    const li = bubble(myRole, text, t.sending || "", null);
    li.classList.add("msg-pending");
    list.appendChild(li);
    if (emptyBox) emptyBox.hidden = true;
    toBottom();
    pending.set(id, { text: text, li: li });
    input.value = "";
    grow();
    send({ type: "message", text: text, client_msg_id: id });
    clearTimeout(typingStopTimer);
    typingSentAt = 0;
    send({ type: "typing", typing: false });
  }

  // The box grows with its text (up to its CSS max-height), so a new line never hides what is written.
  function grow() {
    if (!input) return;
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";
  }

  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (canSend()) submit(); else flashReason();
    });
    const enterSends = !window.matchMedia("(pointer: coarse)").matches;
    input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
      if (!enterSends) return; // touch keyboards: Enter is a new line, the Send button sends (docs/chat.md)
      ev.preventDefault();
      // Not sendable yet (waiting room, offline): the text stays in the box and the reason is shown.
      if (canSend()) submit(); else flashReason();
    });
    input.addEventListener("input", () => {
      grow();
      const ts = Date.now();
      if (ts - typingSentAt > 2500) { typingSentAt = ts; send({ type: "typing", typing: true }); }
      clearTimeout(typingStopTimer);
      typingStopTimer = setTimeout(() => { typingSentAt = 0; send({ type: "typing", typing: false }); }, 3000);
    });
  }

  if (endForm) {
    endForm.addEventListener("submit", (ev) => {
      if (!window.confirm(t.confirm_end || "?")) ev.preventDefault();
    });
  }

  function fmt(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(sec);
  }

  function tick() {
    if (countdownBox) {
      if (ended) countdownBox.textContent = t.ended || "";
      else if (now() < startsAt && status !== "live") countdownBox.textContent = (t.starts_in || "") + " " + fmt(startsAt - now());
      else countdownBox.textContent = (t.remaining || "") + " " + fmt(endsAt - now());
      countdownBox.dataset.low = !ended && endsAt - now() < 5 * 60 * 1000 ? "true" : "false";
    }
    if (waitingCountdown) waitingCountdown.textContent = waiting() ? (t.starts_in || "") + " " + fmt(startsAt - now()) : "";
    refreshComposer();
  }

  // Small hook for tests and support: how many sockets were opened, and a way to drop one.
  window.kokoroChat = {
    draft: () => (input ? input.value : ""),
    connections: () => connections,
    lastSeq: () => lastSeq,
    drop: () => { if (ws) ws.close(4000, "dropped"); },
  };

  window.setInterval(tick, 1000);
  tick();
  toBottom();
  if (ended) onEnded({ next_url: cfg.next_url, type: "initial" });
  connect();
})();
