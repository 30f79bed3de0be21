/* Civic web chat. Plain JS, no framework, no CDN.
 * Safety rule: text from the citizen, the assistant or a document is only ever set with textContent or
 * as an attribute value; links pass safeUrl (http/https only). innerHTML is never used.
 * Transport: WebSocket /ws, falling back to POST /api/chat (Idempotency-Key) when sockets fail.
 * Every message goes through an outbox in localStorage keyed by an idempotency key and leaves it only
 * when its reply has arrived, so a message typed offline is sent on reconnect exactly once.
 */
(function () {
  "use strict";

  var STR = {
    zh: {
      title: "政务服务助手", skip: "跳到输入框", big_text: "大字", log_label: "对话记录",
      lang_button: "EN", lang_label: "Switch to English",
      hint: "您可以问办事材料、办理地点、收费、办件进度或政策文件。",
      conn_connecting: "连接中…", conn_online: "已连接", conn_http: "已连接（备用通道）",
      conn_offline: "网络已断开：消息会在恢复连接后自动发送",
      input_label: "输入您的问题", placeholder: "例如：办居住证要带什么材料？", send: "发送", human: "转人工",
      typing: "助手正在输入…", handoff: "已转人工服务：您接下来的消息会转给工作人员。", you: "您说：", bot: "助手说：",
      queued: "待发送", sending: "发送中…", failed: "未发送",
      over: "已超出 {n} 字，请缩短到 {max} 字以内再发送。",
      quick: "快捷回复", feedback_q: "这个回答有帮助吗？", up: "有帮助", down: "没帮助",
      thanks: "感谢您的反馈", feedback_failed: "反馈未能提交，请稍后再试",
      err_rate_limited: "您发送得有点快，请稍等 {s} 秒，我们会自动重发。",
      err_too_long: "消息超过 {max} 字，请缩短后再发送。", err_empty: "不能发送空消息。",
      err_bad_request: "消息未能发送，请刷新页面后重试。",
      err_unavailable: "助手暂时无法回答，请稍后再试。", err_internal: "出了点问题，请稍后再试。",
      card: "办事指南", materials: "办理材料", location: "办理地点", hours: "办公时间", fees: "收费标准",
      time_limit: "办理时限", time_limit_legal: "法定时限", time_limit_promised: "承诺时限", steps: "办理流程",
      conditions: "受理条件", phone: "咨询电话", online_url: "网上办理", online_open: "在线办理",
      sources: "依据来源", doc_no: "文号", issuer: "发文机关", issued_on: "发布日期",
      status_expired: "已失效", status_abolished: "已废止", status_lapsed: "已过有效期",
      inactive_note: "该文件{s}，内容仅供参考，请以现行规定为准。", superseded: "现行文件：",
      status_card: "办件进度", app_no: "申请编号", item: "办理事项", applicant: "申请人", state: "办理状态",
      current_step: "当前环节", expected_by: "预计办结", history: "办理记录", state_in_progress: "办理中",
      state_completed: "已办结", state_rejected: "不予受理", state_needs_more: "需补正材料"
    },
    en: {
      title: "Civic Service Assistant", skip: "Skip to the message box", big_text: "Large text",
      log_label: "Conversation", lang_button: "中文", lang_label: "切换到中文",
      hint: "Ask about required documents, where to go, fees, application status or policy documents.",
      conn_connecting: "Connecting…", conn_online: "Online", conn_http: "Online (fallback)",
      conn_offline: "Offline: messages will be sent when the connection returns",
      input_label: "Type your question", placeholder: "e.g. What do I need for a residence permit?",
      send: "Send", human: "Talk to a person", typing: "The assistant is typing…",
      handoff: "Handed over to staff: your next messages go to a person.", you: "You said:",
      bot: "Assistant said:", queued: "Queued", sending: "Sending…", failed: "Not sent",
      over: "{n} characters over the limit; please shorten it to {max}.",
      quick: "Quick replies", feedback_q: "Was this answer helpful?", up: "Helpful", down: "Not helpful",
      thanks: "Thanks for your feedback", feedback_failed: "Feedback could not be sent; please try later",
      err_rate_limited: "You're sending messages a bit fast. We'll resend in {s} seconds.",
      err_too_long: "The message is longer than {max} characters; please shorten it.",
      err_empty: "An empty message cannot be sent.", err_bad_request: "The message could not be sent; please reload.",
      err_unavailable: "The assistant cannot answer right now; please try again later.",
      err_internal: "Something went wrong; please try again later.",
      card: "Service guide", materials: "Documents to bring", location: "Where", hours: "Opening hours",
      fees: "Fees", time_limit: "Time limit", time_limit_legal: "Legal time limit",
      time_limit_promised: "Promised time limit", steps: "Steps", conditions: "Who can apply",
      phone: "Phone", online_url: "Apply online", online_open: "Apply online", sources: "Sources",
      doc_no: "Doc. no.", issuer: "Issued by", issued_on: "Date", status_expired: "EXPIRED", status_lapsed: "NO LONGER VALID",
      status_abolished: "ABOLISHED", inactive_note: "This document is {s}; for reference only.",
      superseded: "Current document: ", status_card: "Application", app_no: "Application no.",
      item: "Service", applicant: "Applicant", state: "Status", current_step: "Current step",
      expected_by: "Expected by", history: "History", state_in_progress: "In progress",
      state_completed: "Completed", state_rejected: "Rejected", state_needs_more: "More documents needed"
    }
  };
  var CARD_FIELDS = ["materials", "location", "hours", "fees", "time_limit", "time_limit_legal",
    "time_limit_promised", "steps", "conditions", "phone"];
  var INACTIVE = { expired: "status_expired", abolished: "status_abolished" };

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
    answered: {}, inflight: {}, bubbles: {}, outbox: [], handoff: false
  };
  try { S.outbox = JSON.parse(store.get(OUTBOX_KEY) || "[]") || []; } catch (e) { S.outbox = []; }

  function t(key, vars) {
    var s = (STR[S.lang][key] !== undefined ? STR[S.lang][key] : STR.zh[key]) || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function safeUrl(u) {
    try {
      var url = new URL(String(u), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }
  function link(href, text, cls) {
    var ok = safeUrl(href);
    if (!ok) { return el("span", cls, text); }
    var a = el("a", cls, text);
    a.setAttribute("href", ok);
    a.setAttribute("target", "_blank");
    a.setAttribute("rel", "noopener noreferrer");
    return a;
  }

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
  function addRow(dl, label, value) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) { return; }
    dl.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (Array.isArray(value)) {
      var list = el(value.ordered ? "ol" : "ul", value.check ? "check" : null);
      value.forEach(function (item) { list.appendChild(el("li", null, item)); });
      dd.appendChild(list);
    } else if (value instanceof Node) {
      dd.appendChild(value);
    } else {
      dd.textContent = String(value);
    }
    dl.appendChild(dd);
  }
  function listOf(v, ordered, check) {
    var a = (Array.isArray(v) ? v : []).map(String);
    a.ordered = ordered; a.check = check;
    return a;
  }
  function guideRows(dl, card) {
    var fields = {};
    CARD_FIELDS.forEach(function (f) { if (card[f]) { fields[f] = card[f]; } });
    if (card.fields && !Array.isArray(card.fields) && typeof card.fields === "object") {
      Object.keys(card.fields).forEach(function (f) { fields[f] = card.fields[f]; });
    }
    if (card.checklist) { fields.materials = card.checklist; }
    if (card.online_url) { fields.online_url = card.online_url; }
    CARD_FIELDS.concat(["online_url"]).forEach(function (f) {
      var v = fields[f];
      if (f === "online_url") {
        if (v && safeUrl(v)) { addRow(dl, t("online_url"), link(v, t("online_open") + " ↗", "go")); }
      } else if (Array.isArray(v)) {
        addRow(dl, t(f), listOf(v, f === "steps", f === "materials"));
      } else {
        addRow(dl, t(f), v);
      }
    });
    (Array.isArray(card.fields) ? card.fields : []).forEach(function (f) {
      if (f && f.value) { addRow(dl, String(f.label || ""), f.value); }
    });
  }
  function statusRows(dl, card) {
    addRow(dl, t("app_no"), card.app_no);
    addRow(dl, t("item"), card.item);
    addRow(dl, t("applicant"), card.applicant);
    addRow(dl, t("state"), STR.zh["state_" + card.state] ? t("state_" + card.state) : card.state);
    addRow(dl, t("current_step"), card.current_step);
    addRow(dl, t("expected_by"), card.expected_by);
    addRow(dl, t("history"), listOf((card.history || []).map(function (e) {
      return String(e.at || "").slice(0, 16).replace("T", " ") + " " + (e.step || "") + (e.note ? "：" + e.note : "");
    }), true, false));
  }
  function renderCard(card) {
    var dl = el("dl");
    var kind = card.type === "status" ? "status_card" : "card";
    if (card.type === "status") { statusRows(dl, card); } else { guideRows(dl, card); }
    if (!dl.childNodes.length) { return null; }  // nothing beyond the title: the citation says it all
    var box = el("section", "card");
    var title = card.type === "status" ? (card.app_no || "") : (card.title || "");
    box.setAttribute("aria-label", t(kind) + "：" + title);
    box.appendChild(el("h3", null, card.type === "status" ? t(kind) + " " + title : title));
    box.appendChild(dl);
    return box;
  }
  function renderCitations(cites) {
    var box = el("section", "cites");
    box.setAttribute("aria-label", t("sources"));
    box.appendChild(el("h4", null, t("sources")));
    var ol = el("ol");
    cites.forEach(function (c) {
      var li = el("li", "cite");
      var flag = INACTIVE[c.status] || (c.is_current === false && c.status === "published" ? "status_lapsed" : null);
      if (flag) {
        li.classList.add("inactive");
        li.appendChild(el("strong", "badge", "⚠ " + t(flag)));
      }
      li.appendChild(link(c.url, c.title || c.id || "", "title"));
      var meta = [];
      if (c.doc_no) { meta.push(t("doc_no") + " " + c.doc_no); }
      if (c.issuer) { meta.push(c.issuer); }
      if (c.issued_on) { meta.push(c.issued_on); }
      if (meta.length) { li.appendChild(el("p", "meta", meta.join(" · "))); }
      if (flag) {
        li.appendChild(el("p", "warn", t("inactive_note", { s: t(flag) })));
        var sup = c.superseded_by;
        if (sup && sup.title) {
          var p = el("p", "meta", t("superseded"));
          p.appendChild(link(sup.url, sup.title + (sup.doc_no ? "（" + sup.doc_no + "）" : "")));
          li.appendChild(p);
        }
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
    return box;
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
  /* A card is the structured view of lines the text also lists for text-only channels: show them once. */
  function trimForCard(text, card) {
    var drop = [];
    if (card.checklist || Array.isArray(card.materials)) { drop.push(/^\s*☐/); }
    if (Array.isArray(card.steps)) { drop.push(/^\s*\d+[.、]\s/); }
    if (card.type === "status" && Array.isArray(card.history) && card.history.length) { drop.push(/^\s*·\s/); }
    if (!drop.length) { return text; }
    return String(text).split("\n").filter(function (line) {
      return !drop.some(function (re) { return re.test(line); });
    }).join("\n");
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
    var item = { key: rid(), text: text, label: label || "" };
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
        S.ws.send(JSON.stringify({ type: "message", key: item.key, text: item.text, label: item.label }));
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
    markUser(key, "");
    dropFromOutbox(key);
    renderReply(key, reply, null);
    var handoff = !!(reply && reply.handoff);
    if (handoff && !S.handoff) { notice(t("handoff"), "info"); }
    S.handoff = handoff;
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

  /* ---- transport: WebSocket first, POST /api/chat as fallback ---- */
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
    window.fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
      body: JSON.stringify({ session: "web:" + sid, text: item.text, label: item.label })
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
      var queued = {};
      S.outbox.forEach(function (m) { queued[m.key] = true; });
      (data.turns || []).forEach(function (turn) {
        var answered = !!turn.reply;
        userBubble(turn.key, turn.label || turn.text, answered || !queued[turn.key] ? "" : "queued");
        if (answered) {
          S.answered[turn.key] = true;
          renderReply(turn.key, turn.reply, turn.feedback);
          S.handoff = !!turn.reply.handoff;
        }
        delete queued[turn.key];
      });
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

  setBig(store.get("civic.big") === "1");
  applyLang();
  restore().then(connect);
})();
