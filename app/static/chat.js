/* Civic web chat. Plain JS, no framework, no CDN.
 * Safety rule: text from the citizen, the assistant or a document is only ever set with textContent or
 * as an attribute value; links pass safeUrl (http/https only). innerHTML is never used.
 * Transport: WebSocket /ws, falling back to POST /api/webchat/message (Idempotency-Key) when sockets fail.
 * Every message goes through an outbox in localStorage keyed by an idempotency key and leaves it only
 * when its reply has arrived, so a message typed offline is sent on reconnect exactly once.
 */
(function () {
  "use strict";

  var STR = window.CivicChat.STR;

  var $ = function (id) { return document.getElementById(id); };
  var MAX = parseInt(document.body.getAttribute("data-max-chars"), 10) || 500;
  var store = {
    get: function (k) { try { return window.localStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { window.localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
  };
  function rid() {
    var a = new Uint8Array(16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var sid = store.get("civic.sid");
  if (!sid || !/^[0-9a-f]{32}$/.test(sid)) { sid = rid(); store.set("civic.sid", sid); }
  var OUTBOX_KEY = "civic.outbox." + sid;
  var S = {
    lang: store.get("civic.lang") === "en" ? "en" : "zh",
    conn: "connecting", ws: null, wsFailures: 0, useHttp: false, timer: null, backoff: 1000,
    answered: {}, inflight: {}, bubbles: {}, outbox: [], handoff: false, staffSeen: {}
  };
  try { S.outbox = JSON.parse(store.get(OUTBOX_KEY) || "[]") || []; } catch (e) { S.outbox = []; }

  function t(key, vars) {
    var s = (STR[S.lang][key] !== undefined ? STR[S.lang][key] : STR.zh[key]) || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }
  var R = window.CivicChat.makeRender(t), el = R.el;
  var renderCard = R.renderCard, renderCitations = R.renderCitations, trimForCard = R.trimForCard;
  var log = $("log"), input = $("input"), form = $("form"), typing = $("typing");
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  /* ---- language, large text, connection state ---- */
  function applyLang() {
    document.documentElement.setAttribute("lang", S.lang === "en" ? "en" : "zh-CN");
    document.title = t("title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (n) {
      n.textContent = t(n.getAttribute("data-i18n"));
    });
    var lang = $("lang");
    lang.textContent = t("lang_button");
    lang.setAttribute("aria-label", t("lang_label"));
    lang.setAttribute("lang", S.lang === "en" ? "zh-CN" : "en");
    log.setAttribute("aria-label", t("log_label"));
    input.setAttribute("placeholder", t("placeholder"));
    setConn(S.conn);
    updateCounter();
  }
  function setConn(state) {
    S.conn = state;
    var c = $("conn");
    c.setAttribute("data-state", state);
    c.setAttribute("data-i18n", "conn_" + state);
    c.textContent = t("conn_" + state);
  }
  function setBig(on) {
    document.documentElement.classList.toggle("big", on);
    $("big").setAttribute("aria-pressed", on ? "true" : "false");
    store.set("civic.big", on ? "1" : "0");
  }

  /* ---- the 500-character limit, shown before sending ---- */
  function updateCounter() {
    var n = input.value.length, over = n - MAX;
    var counter = $("counter");
    counter.textContent = n + "/" + MAX;
    counter.classList.toggle("over", over > 0);
    $("limit").textContent = over > 0 ? t("over", { n: over, max: MAX }) : "";
    input.setAttribute("aria-invalid", over > 0 ? "true" : "false");
    $("send").disabled = over > 0;
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";  // capped by max-height in the CSS
  }

  /* ---- rendering ---- */
  function userBubble(key, shown, state) {
    var turn = el("div", "turn user");
    var msg = el("p", "msg");
    msg.appendChild(el("span", "sr-only", t("you") + " "));
    msg.appendChild(document.createTextNode(shown));
    turn.appendChild(msg);
    var st = el("p", "state", state ? t(state) : "");
    st.hidden = !state;
    turn.appendChild(st);
    log.appendChild(turn);
    S.bubbles[key] = st;
    scrollDown();
  }
  function markUser(key, state) {
    var st = S.bubbles[key];
    if (!st) { return; }
    st.textContent = state ? t(state) : "";
    st.hidden = !state;
    st.classList.toggle("failed", state === "failed");
  }
  function notice(text, kind) {
    log.appendChild(el("p", "notice" + (kind ? " " + kind : ""), text));
    scrollDown();
  }
  function renderFeedback(key, value) {
    var row = el("div", "feedback");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", t("feedback_q"));
    var thanks = el("span", "thanks");
    var buttons = [["up", "👍"], ["down", "👎"]].map(function (pair) {
      var b = el("button", null, pair[1]);
      b.type = "button";
      b.setAttribute("aria-label", t(pair[0]));
      b.setAttribute("aria-pressed", value === pair[0] ? "true" : "false");
      b.addEventListener("click", function () { sendFeedback(key, pair[0], buttons, thanks); });
      row.appendChild(b);
      return b;
    });
    row.appendChild(thanks);
    return row;
  }
  function renderReply(key, reply, feedback) {
    var messages = (reply && reply.messages) || [];
    if (!messages.length) { return; }
    var turn = el("div", "turn bot");
    messages.forEach(function (m) {
      var msg = el("div", "msg");
      var card = m.card && typeof m.card === "object" ? renderCard(m.card) : null;
      var text = el("p", "text");
      text.appendChild(el("span", "sr-only", t("bot") + " "));
      text.appendChild(document.createTextNode(card ? trimForCard(m.text || "", m.card) : m.text || ""));
      msg.appendChild(text);
      if (card) { msg.appendChild(card); }
      if (Array.isArray(m.citations) && m.citations.length) { msg.appendChild(renderCitations(m.citations)); }
      if (Array.isArray(m.buttons) && m.buttons.length) {
        var quick = el("div", "quick");
        quick.setAttribute("role", "group");
        quick.setAttribute("aria-label", t("quick"));
        m.buttons.forEach(function (b) {
          var btn = el("button", null, b.title || b.payload);
          btn.type = "button";
          btn.addEventListener("click", function () { send(String(b.payload || b.title), String(b.title || "")); });
          quick.appendChild(btn);
        });
        msg.appendChild(quick);
      }
      turn.appendChild(msg);
    });
    turn.appendChild(renderFeedback(key, feedback));
    log.appendChild(turn);
    if (turn.offsetHeight > log.clientHeight * 0.8) {
      log.scrollTop = Math.max(0, turn.offsetTop - 64);  // a long answer is read from its top
    } else {
      scrollDown();
    }
  }
  /* ---- a person's replies and the hand-over queue (frames from the staff console) ---- */
  var queueLine = el("p", "queue");  // the citizen's place in the queue, announced politely
  queueLine.id = "queue";
  queueLine.setAttribute("role", "status");
  queueLine.hidden = true;
  function renderStaff(line) {
    if (line.id !== null && line.id !== undefined) {
      if (S.staffSeen[line.id]) { return; }
      S.staffSeen[line.id] = true;
    }
    var turn = el("div", "turn staff");
    var msg = el("div", "msg");
    var who = el("p", "from", line.from || t("staff"));
    msg.appendChild(who);
    var text = el("p", "text");
    text.appendChild(el("span", "sr-only", t("staff_said", { who: line.from || t("staff") }) + " "));
    text.appendChild(document.createTextNode(line.text || ""));
    msg.appendChild(text);
    turn.appendChild(msg);
    log.appendChild(turn);
    scrollDown();
  }
  function setQueue(state) {
    if (!state || !state.state) { return; }
    if (state.state === "waiting") {
      queueLine.textContent = t("queue_waiting", { n: state.position });
    } else if (state.state === "taken") {
      queueLine.textContent = t("queue_taken", { who: state.agent });
    } else if (state.state === "released") {
      queueLine.textContent = "";
      queueLine.hidden = true;
      if (S.handoff) { notice(t("queue_released"), "info"); }
      S.handoff = false;
      return;
    }
    queueLine.hidden = false;
  }
  function isPaused(reply) { return !!(reply && reply.mode === "paused"); }

  function updateTyping() {
    typing.hidden = !Object.keys(S.inflight).length;
    if (!typing.hidden) { scrollDown(); }
  }

  /* ---- outbox ---- */
  function saveOutbox() { store.set(OUTBOX_KEY, JSON.stringify(S.outbox)); }
  function dropFromOutbox(key) {
    S.outbox = S.outbox.filter(function (m) { return m.key !== key; });
    saveOutbox();
    delete S.inflight[key];
    updateTyping();
  }
  function send(text, label) {
    if (!text.trim() || text.length > MAX) { return false; }
    var item = { key: rid(), text: text, label: label || "", lang: S.lang };
    S.outbox.push(item);
    saveOutbox();
    userBubble(item.key, label || text, "queued");
    flush();
    return true;
  }
  function flush() {
    for (var i = 0; i < S.outbox.length; i++) {
      var item = S.outbox[i];
      if (S.inflight[item.key] || S.answered[item.key]) { continue; }
      if (S.ws && S.ws.readyState === WebSocket.OPEN) {  // the server answers a socket's messages in order
        S.inflight[item.key] = true;
        S.ws.send(JSON.stringify({ type: "message", key: item.key, text: item.text, label: item.label,
                                   lang: item.lang || S.lang }));
        markUser(item.key, "sending");
      } else if (S.useHttp && navigator.onLine && !Object.keys(S.inflight).length) {
        S.inflight[item.key] = true;  // over HTTP, one request at a time keeps the order
        markUser(item.key, "sending");
        postChat(item);
        break;
      }
    }
    updateTyping();
  }
  function onReply(key, reply) {
    delete S.inflight[key];
    if (S.answered[key]) { dropFromOutbox(key); return; }  // a re-delivered answer: shown already
    S.answered[key] = true;
    markUser(key, isPaused(reply) ? "delivered" : "");
    dropFromOutbox(key);
    if (!isPaused(reply)) { renderReply(key, reply, null); }  // a person has it: no bot answer to show
    var handoff = !!(reply && reply.handoff);
    if (handoff && !S.handoff) { notice(t("handoff"), "info"); }
    S.handoff = handoff;
    if (reply && reply.queue) { setQueue(reply.queue); }  // the place in the queue, with the answer
  }
  function onError(key, data) {
    delete S.inflight[key];
    var code = data.code || "internal";
    if (code === "rate_limited") {
      var s = Math.max(1, Math.ceil(Number(data.retry_after) || 5));
      markUser(key, "queued");
      notice(t("err_rate_limited", { s: s }));
      window.setTimeout(flush, s * 1000);
    } else {
      markUser(key, "failed");
      dropFromOutbox(key);
      notice(t("err_" + (STR.zh["err_" + code] ? code : "internal"), { max: MAX }));
    }
    updateTyping();
  }

  /* ---- transport: WebSocket first, POST /api/webchat/message as fallback ---- */
  function connect() {
    window.clearTimeout(S.timer);
    if (S.ws || !navigator.onLine) { if (!navigator.onLine) { setConn("offline"); } return; }
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws, opened = false;
    try {
      ws = new WebSocket(proto + "//" + window.location.host + "/ws?session=" + sid);
    } catch (e) { S.wsFailures += 2; return fallback(); }
    S.ws = ws;
    ws.onopen = function () {
      opened = true; S.wsFailures = 0; S.backoff = 1000; S.useHttp = false;
      setConn("online");
      flush();
    };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type === "reply") { onReply(data.key, data.reply); }
      else if (data.type === "ack") { markUser(data.key, ""); }
      else if (data.type === "error") { if (data.key) { onError(data.key, data); } }
      else if (data.type === "staff") { renderStaff(data); }
      else if (data.type === "queue") { setQueue(data); }
    };
    ws.onclose = function () {
      if (S.ws === ws) { S.ws = null; }
      Object.keys(S.inflight).forEach(function (k) { markUser(k, "queued"); });
      S.inflight = {};
      updateTyping();
      if (!navigator.onLine) { setConn("offline"); return; }
      if (!opened) { S.wsFailures += 1; }
      if (S.wsFailures >= 2) { fallback(); return; }
      setConn("connecting");
      S.timer = window.setTimeout(connect, S.backoff);
      S.backoff = Math.min(S.backoff * 2, 15000);
    };
  }
  function fallback() {
    S.useHttp = true;
    setConn("http");
    flush();
    S.timer = window.setTimeout(function () { S.wsFailures = 0; connect(); }, 30000);
  }
  function postChat(item) {
    window.fetch("/api/webchat/message", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
      body: JSON.stringify({ session: "web:" + sid, text: item.text, label: item.label, lang: item.lang || S.lang })
    }).then(function (res) {
      return res.json().then(function (data) {
        if (res.ok) { onReply(item.key, data); } else { onError(item.key, { code: data.error, retry_after: data.retry_after }); }
        if (res.ok || data.error !== "rate_limited") { flush(); }  // then the next queued message
      });
    }).catch(function () {
      delete S.inflight[item.key];
      markUser(item.key, "queued");
      setConn("offline");
      updateTyping();
      window.setTimeout(function () { if (navigator.onLine) { setConn("http"); flush(); } }, 5000);
    });
  }
  function sendFeedback(key, value, buttons, thanks) {
    window.fetch("/api/webchat/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: sid, key: key, value: value })
    }).then(function (res) {
      if (!res.ok) { throw new Error(String(res.status)); }
      buttons[0].setAttribute("aria-pressed", value === "up" ? "true" : "false");
      buttons[1].setAttribute("aria-pressed", value === "down" ? "true" : "false");
      thanks.textContent = t("thanks");
    }).catch(function () { thanks.textContent = t("feedback_failed"); });
  }

  /* ---- history restored from the server, then the queued messages ---- */
  function restore() {
    return window.fetch("/api/webchat/history?session=" + sid).then(function (res) {
      return res.ok ? res.json() : { turns: [] };
    }).then(function (data) {
      var queued = {}, staffAfter = {};
      S.outbox.forEach(function (m) { queued[m.key] = true; });
      (data.staff || []).forEach(function (line) {  // a person's replies, each after the turn it followed
        (staffAfter[line.after_key || ""] = staffAfter[line.after_key || ""] || []).push(line);
      });
      (staffAfter[""] || []).forEach(renderStaff);
      (data.turns || []).forEach(function (turn) {
        var answered = !!turn.reply;
        var paused = answered && isPaused(turn.reply);
        userBubble(turn.key, turn.label || turn.text, paused ? "delivered" :
          answered || !queued[turn.key] ? "" : "queued");
        if (answered) {
          S.answered[turn.key] = true;
          if (!paused) { renderReply(turn.key, turn.reply, turn.feedback); }
          S.handoff = !!turn.reply.handoff;
        }
        (staffAfter[turn.key] || []).forEach(renderStaff);
        delete queued[turn.key];
      });
      if (data.queue) { S.handoff = true; setQueue(data.queue); }
      S.outbox = S.outbox.filter(function (m) { return !S.answered[m.key]; });
      saveOutbox();
      S.outbox.forEach(function (m) { if (queued[m.key]) { userBubble(m.key, m.label || m.text, "queued"); } });
      scrollDown();
    }).catch(function () {
      S.outbox.forEach(function (m) { userBubble(m.key, m.label || m.text, "queued"); });
    });
  }

  /* ---- wiring ---- */
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (send(input.value, "")) { input.value = ""; updateCounter(); }
    input.focus();
  });
  input.addEventListener("input", updateCounter);
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  $("human").addEventListener("click", function () { send("/request_human", t("human")); });
  $("lang").addEventListener("click", function () {
    S.lang = S.lang === "en" ? "zh" : "en";
    store.set("civic.lang", S.lang);
    applyLang();
  });
  $("big").addEventListener("click", function () {
    setBig($("big").getAttribute("aria-pressed") !== "true");
  });
  window.addEventListener("offline", function () {
    setConn("offline");
    if (S.ws) { S.ws.close(); }
  });
  window.addEventListener("online", function () {
    S.backoff = 1000;
    if (S.useHttp) { setConn("http"); flush(); } else { connect(); }
  });

  typing.parentNode.insertBefore(queueLine, typing);
  // on the HTTP fallback nothing can push a person's reply or the queue's moves: while handed over, look
  window.setInterval(function () {
    if (!S.useHttp || !S.handoff || !navigator.onLine) { return; }
    window.fetch("/api/webchat/history?session=" + sid).then(function (res) {
      return res.ok ? res.json() : {};
    }).then(function (data) {
      if (!data.staff) { return; }  // no staff console in this app
      data.staff.forEach(renderStaff);
      setQueue(data.queue || { state: "released" });
    }).catch(function () { /* the next look tries again */ });
  }, 3000);
  setBig(store.get("civic.big") === "1");
  applyLang();
  restore().then(connect);
})();
