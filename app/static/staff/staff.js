/* The staff console (/staff): the hand-over queue, one hand-over, one live call.
 * Plain JS, no CDN. Text from citizens, callers or documents is only ever set with textContent.
 * State-changing requests carry the session's CSRF token from <meta name="csrf-token"> (X-CSRF-Token).
 * How updates reach the page:
 * - A live call is pushed over its WebSocket, GET /api/admin/staff/calls/{id}/live (the staff session's
 *   cookie; the server refuses another Origin).  The first frame is {"type": "call", "call": …}, the same JSON
 *   the polling GET answers, so both paths render through applyCall(); then "transcript" (one masked line),
 *   "suggestions", "status_offer" and "order" frames as the hotline pushes them.  If the socket cannot open,
 *   is not up within 3 s or drops, the page polls GET /api/admin/staff/calls/{id} every 0.5 s and retries
 *   the socket with backoff (1 s doubling to 30 s, jittered); a socket closed with 4401 (the session ended)
 *   is not retried.  The state shows in #conn (role=status, aria-live=polite): 「实时 Live」 / 「轮询 Polling」.
 * - The queue (every 1.5 s) and an open hand-over (every second) still poll their JSON routes.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-page]");
  if (!root) { return; }
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function api(method, path, body) {
    var init = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      init.headers["X-CSRF-Token"] = CSRF;
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    return window.fetch(path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) { throw new Error(data.error || ("HTTP " + res.status)); }
        return data;
      });
    });
  }
  function every(ms, fn) {
    var busy = false;
    function tick() {
      if (busy) { return; }
      busy = true;
      fn().catch(function () { /* shown by the next successful poll */ }).then(function () { busy = false; });
    }
    tick();
    return window.setInterval(tick, ms);
  }
  var ROLE = { citizen: "市民 Citizen", staff: "人工 Staff", bot: "助手 Bot", caller: "来电人 Caller",
               agent: "坐席 Agent" };
  function lineItem(role, text, extra) {
    var li = el("li", "line " + role + (extra ? " " + extra : ""));
    li.appendChild(el("span", "who", ROLE[role] || role));
    li.appendChild(document.createTextNode(" " + text));
    return li;
  }

  /* ---- the queue and the calls ---- */
  function indexPage() {
    var last = "";
    every(1500, function () {
      return api("GET", "/api/admin/staff/queue").then(function (data) {
        var key = JSON.stringify(data);
        if (key === last) { return; }
        last = key;
        var queue = $("queue"), calls = $("calls");
        clear(queue);
        data.handovers.forEach(function (h) {
          var li = el("li", "item " + h.state);
          var a = el("a", null, h.ticket);
          a.setAttribute("href", "/staff/handovers/" + encodeURIComponent(h.ticket));
          li.appendChild(a);
          li.appendChild(el("span", "chan", h.channel));
          li.appendChild(h.state === "taken"
            ? el("span", "badge taken", h.agent + " · " + h.agent_label + " 已接 taken")
            : el("span", "badge waiting", "第 " + h.position + " 位 waiting #" + h.position));
          li.appendChild(el("p", "last", h.last));
          queue.appendChild(li);
        });
        if (!data.handovers.length) { queue.appendChild(el("li", "empty muted", "没有等待的会话 Nobody is waiting.")); }
        $("queue-count").textContent = data.handovers.length + " 个会话 conversations";
        clear(calls);
        data.calls.forEach(function (c) {
          var li = el("li", "item");
          var a = el("a", null, c.call_id);
          a.setAttribute("href", "/staff/calls/" + encodeURIComponent(c.call_id));
          li.appendChild(a);
          if (c.line) { li.appendChild(el("span", "chan", c.line)); }
          li.appendChild(el("p", "last", c.last));
          calls.appendChild(li);
        });
        if (!data.calls.length) { calls.appendChild(el("li", "empty muted", "没有进行中的通话 No calls in progress.")); }
        $("calls-count").textContent = data.calls.length + " 个通话 calls";
      });
    });
  }

  /* ---- one hand-over ---- */
  function handoverPage() {
    var ticket = root.getAttribute("data-ticket");
    var path = "/api/admin/staff/handovers/" + encodeURIComponent(ticket);
    var transcript = $("transcript"), result = $("result");
    var shown = transcript.children.length;
    function holderText(data) {
      if (data.status === "closed") { return "已交还智能助手 Given back to the bot."; }
      if (data.taken) { return data.taken.user_name + "（" + data.taken.label + "）正在处理 has this conversation."; }
      return "等待接入 Waiting for a person.";
    }
    function refresh() {
      return api("GET", path).then(function (data) {
        for (var i = shown; i < data.transcript.length; i++) {
          transcript.appendChild(lineItem(data.transcript[i].role, data.transcript[i].text));
        }
        shown = data.transcript.length;
        var text = holderText(data);
        if ($("holder").textContent.trim() !== text) { $("holder").textContent = text; }
        var take = root.querySelector('form[data-action="take"]');
        if (take && (data.taken || data.status === "closed")) { take.hidden = true; }
        if (data.status === "closed") {
          Array.prototype.forEach.call(root.querySelectorAll("form[data-action]"), function (f) { f.hidden = true; });
        }
      });
    }
    Array.prototype.forEach.call(root.querySelectorAll("form[data-action]"), function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var action = form.getAttribute("data-action");
        var body = {};
        var box = form.querySelector("textarea");
        if (box) { body.text = box.value; }
        var button = form.querySelector("button");
        button.disabled = true;
        api("POST", path + "/" + action, body).then(function (data) {
          if (action === "take") { window.location.reload(); return; }
          if (action === "release") {
            result.textContent = "已交还智能助手 Given back to the bot.";
            window.location.assign("/staff");
            return;
          }
          box.value = "";
          result.textContent = data.delivered ? "已送达 Delivered to the citizen." :
            "已记录，市民当前不在线 Saved; the citizen is not connected now.";
          return refresh();
        }).catch(function (err) {
          result.textContent = "失败 Failed: " + err.message;
        }).then(function () { button.disabled = false; if (box) { box.focus(); } });
      });
    });
    var reply = $("reply-text");
    if (reply) {
      reply.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
          ev.preventDefault();
          reply.form.requestSubmit();
        }
      });
    }
    every(1000, refresh);
  }

  /* ---- one live call ---- */
  function callPage() {
    var callId = root.getAttribute("data-call");
    var base = "/api/admin/staff/calls/" + encodeURIComponent(callId);
    var dismissedKey = "civic.staff.dismissed." + callId;
    var dismissed = {};
    try { dismissed = JSON.parse(window.sessionStorage.getItem(dismissedKey) || "{}") || {}; } catch (e) { dismissed = {}; }
    var lastSuggestions = "", offered = {}, orderShown = false, orderSubmitted = false;

    var bySeq = {};
    Array.prototype.forEach.call($("transcript").children, function (li) { bySeq[li.getAttribute("data-seq")] = li; });
    function renderTranscript(lines) {  // new lines are added in seq order, changed ones updated in place
      var ol = $("transcript");
      lines.forEach(function (s) {
        var li = lineItem(s.speaker, s.text, s.is_final ? "" : "partial");
        li.setAttribute("data-seq", String(s.seq));
        var old = bySeq[s.seq];
        if (old) {
          if (old.textContent !== li.textContent || old.className !== li.className) { ol.replaceChild(li, old); bySeq[s.seq] = li; }
          return;
        }
        var next = Array.prototype.find.call(ol.children, function (n) { return Number(n.getAttribute("data-seq")) > s.seq; });
        ol.insertBefore(li, next || null);
        bySeq[s.seq] = li;
      });
    }
    function citationText(c) {
      return [c.title, c.doc_no, c.issuer, c.issued_on].filter(function (p) { return p; }).join(" · ");
    }
    function renderSuggestions(list) {
      var key = JSON.stringify([list, dismissed]);
      if (key === lastSuggestions) { return; }
      lastSuggestions = key;
      var ol = $("suggestions");
      clear(ol);
      var visible = list.filter(function (s) { return !dismissed[s.doc_id] || s.pinned; });
      visible.forEach(function (s) {
        var li = el("li", "suggestion" + (s.pinned ? " pinned" : ""));
        var h = el("h3", null, s.title);
        li.appendChild(h);
        if (s.validity && s.validity !== "in_force") {
          li.appendChild(el("p", "validity", s.validity === "abolished" ? "已废止 Abolished" :
            s.validity === "expired" ? "已失效 Expired" : s.validity));
        }
        var passage = el("p", "passage", s.passage);
        li.appendChild(passage);
        li.appendChild(el("p", "cite muted", "〔" + citationText(s.citation || {}) + "〕"));
        var tools = el("div", "tools");
        tools.setAttribute("role", "group");
        tools.setAttribute("aria-label", "建议操作 Actions for " + s.title);
        var pin = el("button", null, s.pinned ? "已固定 Pinned" : "固定 Pin");
        pin.type = "button";
        pin.setAttribute("aria-pressed", s.pinned ? "true" : "false");
        pin.setAttribute("aria-label", (s.pinned ? "已固定 Pinned: " : "固定 Pin: ") + s.title);
        pin.disabled = !!s.pinned;
        pin.addEventListener("click", function () {
          api("POST", base + "/pin", { doc_id: s.doc_id }).then(function (shown) {
            renderSuggestions(shown);
            $("sg-status").textContent = "已固定 Pinned: " + s.title;
          }).catch(function (err) { $("sg-status").textContent = "失败 Failed: " + err.message; });
        });
        var copy = el("button", "secondary", "复制 Copy");
        copy.type = "button";
        copy.setAttribute("aria-label", "复制 Copy: " + s.title);
        copy.addEventListener("click", function () {
          var text = s.passage + "\n〔" + citationText(s.citation || {}) + "〕";
          var done = function () { $("sg-status").textContent = "已复制 Copied: " + s.title; };
          if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(text).then(done, function () { selectText(passage); });
          } else { selectText(passage); }
        });
        tools.appendChild(pin);
        tools.appendChild(copy);
        if (!s.pinned) {
          var dismiss = el("button", "secondary", "忽略 Dismiss");
          dismiss.type = "button";
          dismiss.setAttribute("aria-label", "忽略 Dismiss: " + s.title);
          dismiss.addEventListener("click", function () {
            dismissed[s.doc_id] = true;
            try { window.sessionStorage.setItem(dismissedKey, JSON.stringify(dismissed)); } catch (e) { /* private */ }
            renderSuggestions(list);
            $("sg-status").textContent = "已忽略 Dismissed: " + s.title;
          });
          tools.appendChild(dismiss);
        }
        li.appendChild(tools);
        ol.appendChild(li);
      });
      $("sg-status").textContent = visible.length + " 条建议 suggestions";
    }
    function selectText(node) {
      var range = document.createRange();
      range.selectNodeContents(node);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      $("sg-status").textContent = "已选中，请按 Ctrl+C 复制 Selected: press Ctrl+C to copy";
    }
    function renderOffers(appNos) {
      appNos.forEach(function (no) {
        if (offered[no]) { return; }
        offered[no] = true;
        var b = el("button", null, "查看办件进度 Show the status of " + no);
        b.type = "button";
        b.addEventListener("click", function () {
          api("GET", base + "/status/" + encodeURIComponent(no)).then(showCard).catch(function (err) {
            $("sg-status").textContent = "失败 Failed: " + err.message;
          });
        });
        $("offers").appendChild(b);
      });
    }
    function showCard(card) {
      var dl = $("status-fields");
      clear(dl);
      [["申请编号 Application", card.app_no], ["事项 Service", card.item], ["申请人 Applicant", card.applicant],
       ["状态 State", card.state], ["当前环节 Current step", card.current_step],
       ["预计办结 Expected by", card.expected_by]].forEach(function (pair) {
        if (!pair[1]) { return; }
        dl.appendChild(el("dt", null, pair[0]));
        dl.appendChild(el("dd", null, pair[1]));
      });
      $("status-card").hidden = false;
      var heading = $("sc-h");  // read out next: the card the agent asked for
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
    function fillOrder(order) {
      $("order").hidden = false;
      var f = $("order-form");
      f.elements.kind.value = order.kind;
      var cat = f.elements.category;
      if (!Array.prototype.some.call(cat.options, function (o) { return o.value === order.category; })) {
        cat.appendChild(el("option", null, order.category));
      }
      cat.value = order.category;
      f.elements.department.value = order.department || "";
      f.elements.summary.value = order.summary || "";
      f.elements.places.value = (order.places || []).join("，");
      f.elements.times.value = (order.times || []).join("，");
      $("o-documents").textContent = (order.documents || []).map(function (d) { return d.title; }).join("；") || "（无 none）";
      var ol = $("o-transcript");
      clear(ol);
      (order.transcript || []).forEach(function (s) { ol.appendChild(lineItem(s.speaker, s.text)); });
      setOrderState(order);
    }
    function setOrderState(order) {
      orderSubmitted = order.status === "submitted";
      $("order-state").textContent = orderSubmitted ? "已提交 Submitted: " + order.order_id :
        "草稿 Draft " + order.order_id + "：请核对后提交 check it and submit.";
      $("o-submit").disabled = orderSubmitted;
      $("o-save").disabled = orderSubmitted;
    }
    function edits() {
      var f = $("order-form");
      var list = function (v) { return v.split(/[,，、;；]/).map(function (x) { return x.trim(); }).filter(Boolean); };
      return { kind: f.elements.kind.value, category: f.elements.category.value,
               department: f.elements.department.value.trim(), summary: f.elements.summary.value.trim(),
               places: list(f.elements.places.value), times: list(f.elements.times.value) };
    }
    $("o-save").addEventListener("click", function () {
      api("PUT", base + "/order", edits()).then(function (order) {
        $("order-state").textContent = "已保存草稿 Draft saved: " + order.order_id;
      }).catch(function (err) { $("order-state").textContent = "失败 Failed: " + err.message; });
    });
    $("order-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (orderSubmitted) { return; }
      $("o-submit").disabled = true;
      api("POST", base + "/order", edits()).then(setOrderState).catch(function (err) {
        $("order-state").textContent = "失败 Failed: " + err.message;
        $("o-submit").disabled = false;
      });
    });
    function showOrder(order) {
      $("call-state").textContent = "通话已结束 The call has ended.";
      if (orderShown) { return; }
      orderShown = true;
      fillOrder(order);
      finish();
    }
    function applyCall(data) {  // the GET's JSON: from a poll or the socket's first frame
      renderTranscript(data.transcript);
      renderSuggestions(data.suggestions);
      renderOffers(data.app_nos || []);
      if (data.ended) {
        $("call-state").textContent = "通话已结束 The call has ended.";
        if (data.order) { showOrder(data.order); }
      }
    }
    function applyFrame(f) {
      if (f.type === "call") { applyCall(f.call); }
      else if (f.type === "transcript") { renderTranscript([f.line]); }
      else if (f.type === "suggestions") { renderSuggestions(f.suggestions); }
      else if (f.type === "status_offer") { renderOffers([f.app_no]); }
      else if (f.type === "order") { showOrder(f.order); }
    }

    /* the connection: the socket when it is up, polling while it is not */
    var conn = el("p", "conn muted", "连接中 Connecting…");
    conn.id = "conn";
    conn.setAttribute("role", "status");
    conn.setAttribute("aria-live", "polite");
    $("call-state").insertAdjacentElement("afterend", conn);
    var mode = "connecting", poller = null, socket = null, retryMs = 1000, retryTimer = null, done = false;
    function setMode(next, text) {
      mode = next;
      if (conn.textContent !== text) { conn.textContent = text; }
      conn.className = "conn " + next;
    }
    function poll() {
      return api("GET", base).then(function (data) { if (mode !== "live") { applyCall(data); } });
    }
    function startPolling() {
      if (done) { return; }
      setMode("polling", "轮询 Polling");
      if (poller === null) { poller = every(500, poll); }
    }
    function stopPolling() {
      if (poller !== null) { window.clearInterval(poller); poller = null; }
    }
    function retryLater() {
      if (done || retryTimer !== null) { return; }
      var wait = retryMs * (0.8 + Math.random() * 0.4);
      retryMs = Math.min(retryMs * 2, 30000);
      retryTimer = window.setTimeout(function () { retryTimer = null; connect(); }, wait);
    }
    function connect() {
      if (done) { return; }
      if (!window.WebSocket) { startPolling(); return; }
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var ws;
      try { ws = new window.WebSocket(scheme + window.location.host + base + "/live"); }
      catch (e) { startPolling(); retryLater(); return; }
      socket = ws;
      var slow = window.setTimeout(function () { if (mode !== "live") { startPolling(); } }, 3000);
      ws.addEventListener("message", function (ev) {
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        if (frame.type === "call") {  // the socket is up and in step: polling can stop
          window.clearTimeout(slow);
          retryMs = 1000;
          stopPolling();
          setMode("live", "实时 Live");
        }
        applyFrame(frame);
      });
      ws.addEventListener("close", function (ev) {
        window.clearTimeout(slow);
        if (socket === ws) { socket = null; }
        if (done) { return; }
        if (ev.code === 4401) {
          stopPolling();
          setMode("ended", "会话已结束，请重新登录 Signed out: sign in again");
          return;
        }
        startPolling();
        retryLater();
      });
    }
    function finish() {  // the order is shown: nothing more comes for this call
      done = true;
      stopPolling();
      if (retryTimer !== null) { window.clearTimeout(retryTimer); retryTimer = null; }
      if (socket !== null) { socket.close(1000); socket = null; }
      setMode("ended", "已结束 Ended");
    }
    connect();
  }

  var page = root.getAttribute("data-page");
  if (page === "index") { indexPage(); }
  else if (page === "handover") { handoverPage(); }
  else if (page === "call") { callPage(); }
})();
