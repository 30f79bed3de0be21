/* Builders for the rich parts of an answer: guide and status cards, citations with validity labels.
 * Safety rule: every value from the assistant or a document is set with textContent or as an attribute
 * value; links pass safeUrl (http/https only). innerHTML is never used. */
window.CivicChat = window.CivicChat || {};
window.CivicChat.makeRender = function (t) {
  "use strict";
  var STR = window.CivicChat.STR;
  var CARD_FIELDS = ["materials", "location", "hours", "fees", "time_limit", "time_limit_legal",
    "time_limit_promised", "steps", "conditions", "phone"];
  var INACTIVE = { expired: "status_expired", abolished: "status_abolished" };

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
      if (c.origin) { meta.push(t("origin") + c.origin); }
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

  return {
    el: el, link: link, safeUrl: safeUrl, renderCard: renderCard, renderCitations: renderCitations,
    trimForCard: trimForCard
  };
};
