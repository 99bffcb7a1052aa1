/* AI practice partner in the session room: renders ai.typing / ai.delta / ai.retract / ai.error events
 * (re-dispatched by chat.js as "kokoro:session-event") into a provisional bubble, which the stored message
 * replaces (chat.js fires "kokoro:message"). User/AI text is only set through textContent. */
(function () {
  "use strict";
  const cfgEl = document.getElementById("practice-config");
  const chatEl = document.getElementById("chat-config");
  if (!cfgEl || !chatEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const chat = JSON.parse(chatEl.textContent);
  const t = cfg.i18n || {};
  const list = document.getElementById("chat-messages");
  const scroller = document.getElementById("chat-scroll");
  const typingBox = document.getElementById("chat-typing");
  const emptyBox = document.getElementById("chat-empty");
  if (!list) return;
  const mine = chat.role === "observer" ? "client" : chat.role;

  let current = null; // {id, li, bubble}
  let watchdog = null;

  const status = document.createElement("div");
  status.className = "practice-status";
  status.id = "practice-status";
  status.setAttribute("role", "status");
  status.hidden = true;
  const statusText = document.createElement("span");
  const retryBtn = document.createElement("button");
  retryBtn.type = "button";
  retryBtn.className = "btn btn-secondary practice-retry";
  retryBtn.id = "practice-retry";
  retryBtn.textContent = t.retry || "Retry";
  retryBtn.hidden = true;
  status.append(statusText, retryBtn);
  // Phone view: above the composer (which sticks to the bottom); desktop view: under the transcript.
  const phoneInput = document.querySelector(".phone-input");
  if (phoneInput) phoneInput.prepend(status);
  else (typingBox || scroller).insertAdjacentElement("afterend", status);

  function toBottom() { if (scroller) scroller.scrollTop = scroller.scrollHeight; }

  function showStatus(text, isError) {
    statusText.textContent = text || "";
    status.hidden = !text;
    status.dataset.error = isError ? "true" : "false";
    retryBtn.hidden = !(isError && cfg.can_retry);
  }

  function armWatchdog() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      removeBubble();
      showStatus(t.no_answer || "", true);
    }, (cfg.typing_timeout_s || 120) * 1000);
  }

  function removeBubble() {
    if (current && current.li) current.li.remove();
    current = null;
  }

  function bubbleFor(id) {
    if (current && current.id === id) return current;
    removeBubble();
    const li = document.createElement("li");
    li.className = "msg msg-theirs msg-" + cfg.ai_role + " msg-provisional";
    li.dataset.replyId = id;
    const b = document.createElement("div");
    b.className = "bubble";
    const tm = document.createElement("time");
    tm.className = "msg-time";
    tm.textContent = t.typing || "";
    li.append(b, tm);
    list.insertBefore(li, list.querySelector("li.msg-pending"));
    if (emptyBox) emptyBox.hidden = true;
    current = { id: id, li: li, bubble: b };
    return current;
  }

  function onEvent(frame) {
    if (!frame || typeof frame.type !== "string" || frame.type.indexOf("ai.") !== 0) return;
    switch (frame.type) {
      case "ai.typing":
        showStatus(t.typing || "", false);
        armWatchdog();
        break;
      case "ai.delta": {
        const c = bubbleFor(frame.reply_id);
        c.bubble.textContent += frame.delta;
        showStatus(t.typing || "", false);
        armWatchdog();
        toBottom();
        break;
      }
      case "ai.retract":
        if (current && current.id === frame.reply_id) removeBubble();
        clearTimeout(watchdog);
        showStatus("", false);
        break;
      case "ai.error":
        clearTimeout(watchdog);
        if (!current || current.id === frame.reply_id) removeBubble();
        showStatus((t.error_title || "") + " " + (frame.message || ""), true);
        break;
      default:
        break;
    }
  }

  document.addEventListener("kokoro:session-event", (ev) => onEvent(ev.detail));
  document.addEventListener("kokoro:message", (ev) => {
    const frame = ev.detail;
    if (!frame || frame.role !== cfg.ai_role || frame.role === mine) return;
    removeBubble(); // the stored message replaces the provisional bubble
    clearTimeout(watchdog);
    showStatus("", false);
  });

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  retryBtn.addEventListener("click", () => {
    retryBtn.disabled = true;
    showStatus(t.retrying || "", false);
    armWatchdog();
    fetch(cfg.retry_url, { method: "POST", headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body: body })))
      .then((res) => {
        if (!res.ok) {
          clearTimeout(watchdog);
          showStatus((t.retry_failed || "%(message)s").replace("%(message)s", res.body.message || ""), true);
        }
      })
      .catch(() => { clearTimeout(watchdog); showStatus(t.no_answer || "", true); })
      .finally(() => { retryBtn.disabled = false; });
  });

  // The AI partner is always there: its presence is not announced by a socket.
  const presenceBox = document.getElementById("chat-presence");
  function markPresent() {
    if (!presenceBox || chat.role === "observer") return;
    presenceBox.dataset.online = "true";
    presenceBox.textContent = t.present || "AI";
  }
  markPresent();
  document.addEventListener("kokoro:session-event", markPresent);

  // State at page load: an error stored while the page was closed, or a reply being generated.
  if (cfg.state === "error") showStatus((t.error_title || "") + " " + (cfg.last_error || ""), true);
  else if (cfg.state === "generating") { showStatus(t.thinking || "", false); armWatchdog(); }

  window.kokoroPractice = { provisional: () => (current ? current.bubble.textContent : null) };
})();
