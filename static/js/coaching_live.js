/* Live coaching panel (counselor only): applies pushed "coaching" frames and shows a client-side
   "long silence" hint when the client's last message has waited too long for a reply. */
(function () {
  "use strict";
  const panel = document.getElementById("coach-panel");
  if (!panel) return;
  // The server's derived response-time threshold (signals_text.SLOW_RESPONSE_S); 132 s if the attribute is missing.
  const SILENCE_S = Number(panel.dataset.silenceS) || 132;
  let hintTexts = {};
  try { hintTexts = JSON.parse(document.getElementById("coach-hint-texts").textContent); } catch (e) { hintTexts = {}; }
  let last = null; // {role, time(ms)}

  const $ = (id) => document.getElementById(id);
  const enabled = () => { const s = $("coach-state"); return !!s && s.dataset.enabled === "true"; };
  const pct = (v) => (v === null || v === undefined) ? "–" : Math.round(v * 100) + "%";

  function drawTrend(values) {
    const svg = $("coach-trend");
    if (!svg) return;
    const line = svg.querySelector("polyline");
    svg.dataset.trend = values.join(",");
    if (values.length < 2) { line.setAttribute("points", ""); return; }
    const min = Math.min(...values) - 2, max = Math.max(...values) + 2;
    const pts = values.map((v, i) => {
      const x = (i * 118) / (values.length - 1) + 1;
      const y = 31 - ((v - min) * 30) / (max - min || 1);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    line.setAttribute("points", pts.join(" "));
  }

  function apply(frame) {
    if (!enabled()) return;
    const total = $("coach-total");
    if (total) total.textContent = frame.total === null || frame.total === undefined ? "–" : String(frame.total);
    const status = $("coach-status");
    if (status) {
      status.dataset.status = frame.status || "";
      const texts = { too_few: panel.dataset.tooFew, no_model: panel.dataset.noModel };
      status.textContent = frame.status === "ok" ? "" : (texts[frame.status] || status.textContent);
    }
    if ($("coach-qr")) $("coach-qr").textContent = pct(frame.question_ratio);
    if ($("coach-rr")) $("coach-rr").textContent = pct(frame.reflection_ratio);
    drawTrend(frame.trend || []);
    const list = $("coach-hints");
    if (list) {
      list.replaceChildren();
      (frame.hints || []).forEach((code) => {
        if (!hintTexts[code]) return;
        const li = document.createElement("li");
        li.className = "coach-hint";
        li.dataset.code = code;
        li.textContent = hintTexts[code];
        list.append(li);
      });
    }
  }

  function checkSilence() {
    const box = $("coach-silence");
    if (!box) return;
    const waiting = enabled() && last && last.role === "client" && (Date.now() - last.time) / 1000 > SILENCE_S;
    box.hidden = !waiting;
    if (waiting) box.textContent = hintTexts.silence || "";
  }

  function initLast() {
    const items = document.querySelectorAll("#chat-messages li[data-seq]");
    const li = items[items.length - 1];
    if (!li) return;
    const tm = li.querySelector("time[datetime]");
    const role = li.classList.contains("msg-client") ? "client" : (li.classList.contains("msg-counselor") ? "counselor" : null);
    if (role && tm) last = { role: role, time: Date.parse(tm.dateTime) };
  }

  document.addEventListener("kokoro:session-event", (ev) => {
    if (ev.detail && ev.detail.type === "coaching") apply(ev.detail);
  });
  document.addEventListener("kokoro:message", (ev) => {
    const f = ev.detail || {};
    if (f.role) last = { role: f.role, time: f.created_at ? Date.parse(f.created_at) : Date.now() };
    checkSilence();
  });
  document.body.addEventListener("htmx:afterSwap", (ev) => {
    if (ev.target && ev.target.id === "coach-panel-body") { const s = $("coach-trend"); if (s) drawTrend((s.dataset.trend || "").split(",").filter(Boolean).map(Number)); checkSilence(); }
  });
  initLast();
  const svg = $("coach-trend");
  if (svg) drawTrend((svg.dataset.trend || "").split(",").filter(Boolean).map(Number));
  setInterval(checkSilence, 5000);
})();
