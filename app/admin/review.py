"""Review before publishing in the console (issue 13 part 3): the queue, one document's findings highlighted
in place, and the decisions.

  GET  /admin/review                    the queue (open submissions, oldest first) and the latest decisions
                                        (reviewers)
  GET  /admin/review/{doc_id}           the document with each finding highlighted (<mark>), a checkbox per
                                        finding, Approve and Reject; the submission history.  Editors see it
                                        too (read only), to fix what was found; without an open submission
                                        it shows the checks run now on the current version (a preview)
  POST /admin/review/{doc_id}/submit    send a draft (or a published document) for review (editors); the
                                        documents pages post their "Submit for review" form here
  POST /admin/review/{doc_id}/approve   ``ack`` = each finding number, ``submission`` = the one shown
                                        (reviewers; not the submitter)
  POST /admin/review/{doc_id}/reject    ``reason`` (reviewers)
  GET|POST /admin/negative-list         the city's negative list (``<home>/review/negative_list.txt``), one
                                        term a line (admins; saved whole, audited)

The rules (who may approve, every finding acknowledged, a changed version resubmitted) are
``archive.reviews``'; this module shows them and audits every decision.  Status moves go through
``Archive.set_status``, so the running chat's live index sees a publication within seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from app.admin.doc_forms import LABELS, STATUS_LABELS
from app.admin.web import archive_of, audit, current_user, render, require, today
from app.keys import SETTINGS
from archive import reviews
from archive.models import Document, Status
from archive.review import Finding, load_negative_list, review, text_fields
from archive.store import Archive
from core.errors import InvalidInput, NotFound

REVIEWER = ("reviewer",)
READERS = ("reviewer", "editor")
EDITOR = ("editor",)
MAX_REASON_CHARS = 500
RECENT_DECISIONS = 20

KIND_LABELS: dict[str, str] = {
    "id_card": "身份证号 ID number",
    "mobile": "手机号 Mobile",
    "landline": "固定电话 Landline",
    "bank_card": "银行卡号 Bank card",
    "email": "邮箱 E-mail",
    "passport": "护照号 Passport",
    "name_near_personal": "姓名 Name next to personal data",
    "classification_marker": "密级标志 Classification marker",
    "negative_list": "负面清单 Negative list",
    "missing_element": "缺少要素 Missing element",
    "extracted_element": "自动提取，请核对 Extracted — check",
    "validity_past": "已过有效期 Validity past",
    "broken_replacement": "替代文件无效 Broken replacement",
}
STATE_LABELS = {
    reviews.OPEN: "待审核 waiting",
    reviews.APPROVED: "已通过 approved",
    reviews.REJECTED: "已退回 rejected",
    reviews.SUPERSEDED: "已重新提交 superseded",
}




def field_label(name: str) -> str:
    """``materials[2]`` → 「办理材料 Materials 3」."""
    base, _, index = name.partition("[")
    label = LABELS.get(base, base)
    return f"{label} {int(index.rstrip(']')) + 1}" if index else label


# -- highlighting ----------------------------------------------------------------------------------------
@dataclass
class Segment:
    text: str
    numbers: list[int] = field(default_factory=list)  # the findings covering this piece
    anchors: list[int] = field(default_factory=list)  # the findings that start here


@dataclass
class ShownField:
    name: str
    label: str
    segments: list[Segment]


def segments(text: str, spans: list[tuple[int, int, int]]) -> list[Segment]:
    """``text`` cut at every finding's start and end; ``spans`` are (number, start, end)."""
    cuts = sorted({0, len(text), *(s for _, s, _ in spans), *(e for _, _, e in spans)})
    out: list[Segment] = []
    for start, end in itertools.pairwise(cuts):
        if start >= end:
            continue
        covering = [n for n, s, e in spans if s <= start and end <= e]
        anchors = [n for n, s, _ in spans if s == start]
        if out and not anchors and covering == out[-1].numbers:
            out[-1].text += text[start:end]
        else:
            out.append(Segment(text[start:end], covering, anchors))
    return out


def shown_fields(doc: Document, findings: list[Finding]) -> list[ShownField]:
    """Every non-empty text field of the document, with the findings' spans cut out for highlighting."""
    by_field: dict[str, list[tuple[int, int, int]]] = {}
    for number, f in enumerate(findings, start=1):
        if f.end > f.start:
            by_field.setdefault(f.field, []).append((number, f.start, f.end))
    out = []
    for name, text in text_fields(doc):
        if text:
            out.append(ShownField(name, field_label(name), segments(text, by_field.get(name, []))))
    return out


# -- the pages -------------------------------------------------------------------------------------------
@require(*REVIEWER)
async def queue_page(request: web.Request) -> web.StreamResponse:
    archive = archive_of(request)
    waiting = await asyncio.to_thread(reviews.queue, archive)
    decided = await asyncio.to_thread(reviews.history, archive, None, RECENT_DECISIONS)
    return render(request, "admin/review.html", {
        "waiting": waiting, "decided": decided, "state_labels": STATE_LABELS, "doc_path": review_path,
    })


def review_path(doc_id: str, tail: str = "") -> str:
    return f"/admin/review/{quote(doc_id, safe='')}{tail}"


@dataclass
class Shown:
    """What one review page shows."""

    doc: Document
    submission: reviews.Submission | None  # the open one
    findings: list[Finding]
    history: list[reviews.Submission]
    checked: Document  # the version the findings are about


def _gather(archive: Archive, doc_id: str, terms_file: Any, day: str) -> Shown:
    doc = archive.get(doc_id)
    past = reviews.history(archive, doc_id)
    try:
        open_sub: reviews.Submission | None = reviews.pending(archive, doc_id)
    except NotFound:
        open_sub = None
    if open_sub is not None:
        checked = archive.version(doc_id, open_sub.version) if open_sub.stale else doc
        return Shown(doc, open_sub, open_sub.findings, past, checked)
    preview = review(doc, load_negative_list(terms_file), day, lookup=archive.find)
    return Shown(doc, None, preview, past, doc)


async def _doc_page(request: web.Request, doc_id: str, message: str = "", error: str = "",
                    status: int = 200, acknowledged: set[int] | None = None) -> web.Response:
    archive = archive_of(request)
    shown = await asyncio.to_thread(_gather, archive, doc_id, request.app[SETTINGS].paths.negative_list,
                                    today(request))
    user = current_user(request)
    sub = shown.submission
    may_decide = bool(sub and user.may(*REVIEWER) and not sub.stale
                      and shown.doc.status is Status.REVIEW)
    own = bool(sub and sub.submitted_by == user.name)
    may_submit = user.may(*EDITOR) and (sub is None or sub.stale) and shown.doc.status in (
        Status.DRAFT, Status.PUBLISHED, Status.REVIEW)
    fields = shown_fields(shown.checked, shown.findings)
    anchored = {n for f in fields for seg in f.segments for n in seg.anchors}
    last = shown.history[0] if shown.history and shown.history[0].state != reviews.OPEN else None
    return render(request, "admin/review_doc.html", {
        "doc": shown.doc, "submission": sub, "findings": list(enumerate(shown.findings, start=1)),
        "fields": fields, "anchored": anchored, "checked": shown.checked, "history": shown.history,
        "last": last,
        "kind_labels": KIND_LABELS, "state_labels": STATE_LABELS, "status_labels": STATUS_LABELS,
        "field_label": field_label, "may_decide": may_decide, "own": own, "may_submit": may_submit,
        "acknowledged": acknowledged or set(), "message": message, "error": error,
        "doc_path": review_path, "document_href": "/admin/documents/" + quote(doc_id, safe=""),
    }, status=status)


def _not_found(request: web.Request, exc: NotFound) -> web.Response:
    return render(request, "admin/error.html", {"status": 404, "message": str(exc)}, status=404)


async def _nothing_waiting(request: web.Request, doc_id: str, exc: NotFound) -> web.Response:
    """A decision on a document that exists but has nothing waiting (someone decided first): its page, with
    why; an unknown document: 404."""
    if await asyncio.to_thread(archive_of(request).find, doc_id) is None:
        return _not_found(request, exc)
    return await _doc_page(request, doc_id, error=str(exc), status=409)


@require(*READERS)
async def doc_page(request: web.Request) -> web.StreamResponse:
    doc_id = request.match_info["doc_id"]
    notes = {"submitted": "已提交审核 Submitted for review.",
             "approved": "已通过并发布 Approved and published.",
             "rejected": "已退回草稿 Returned to draft."}
    note = next((text for key, text in notes.items() if key in request.query), "")
    try:
        return await _doc_page(request, doc_id, message=note)
    except NotFound as exc:
        return _not_found(request, exc)


async def submit_for_review(request: web.Request, doc_id: str) -> reviews.Submission:
    """Submit ``doc_id`` as the signed-in user (checks, findings, status → review) and audit it.  For other
    sections that submit as part of their own action; raises InvalidInput / NotFound."""
    archive = archive_of(request)
    by = current_user(request).name
    terms = load_negative_list(request.app[SETTINGS].paths.negative_list)
    before = await asyncio.to_thread(archive.get, doc_id)
    sub = await asyncio.to_thread(reviews.submit, archive, doc_id, by, negative_list=terms,
                                  today=today(request))
    await audit(request, "review_submit", doc_id, {"status": before.status.value, "version": before.version},
                {"status": Status.REVIEW.value, "version": sub.version, "findings": sub.finding_count})
    return sub


@require(*EDITOR)
async def submit(request: web.Request) -> web.StreamResponse:
    doc_id = request.match_info["doc_id"]
    try:
        await submit_for_review(request, doc_id)
    except NotFound as exc:
        return _not_found(request, exc)
    except InvalidInput as exc:
        return await _doc_page(request, doc_id, error=str(exc), status=409)
    raise web.HTTPSeeOther(review_path(doc_id, "?submitted=1"))


def _numbers(values: list[Any]) -> set[int]:
    out = set()
    for value in values:
        text = str(value).strip()
        if not text.isdigit():
            raise InvalidInput(f"a finding number must be a whole number, not {text!r}")
        out.add(int(text))
    return out


async def _shown_submission(request: web.Request, doc_id: str, form: Any) -> reviews.Submission:
    """The open submission, which must be the one the reviewer looked at (``submission`` field)."""
    sub = await asyncio.to_thread(reviews.pending, archive_of(request), doc_id)
    if str(form.get("submission", "")) != str(sub.id):
        raise InvalidInput(f"{doc_id} was submitted again since this page was opened: look at the new "
                           "findings and decide again")
    return sub


@require(*REVIEWER)
async def approve(request: web.Request) -> web.StreamResponse:
    doc_id = request.match_info["doc_id"]
    form = await request.post()
    acks: set[int] = set()
    try:
        acks = _numbers(form.getall("ack", []))
        sub = await _shown_submission(request, doc_id, form)
        by = current_user(request).name
        done = await asyncio.to_thread(reviews.approve, archive_of(request), doc_id, by, sorted(acks))
    except NotFound as exc:
        return await _nothing_waiting(request, doc_id, exc)
    except InvalidInput as exc:
        return await _doc_page(request, doc_id, error=str(exc), status=400, acknowledged=acks)
    await audit(request, "review_approve", doc_id,
                {"status": Status.REVIEW.value, "version": sub.version, "submitted_by": sub.submitted_by},
                {"status": Status.PUBLISHED.value, "acknowledged": done.acknowledged,
                 "findings": [f"{f.kind}:{f.field}:{f.start}-{f.end}" for f in done.findings]})
    raise web.HTTPSeeOther(review_path(doc_id, "?approved=1"))


@require(*REVIEWER)
async def reject(request: web.Request) -> web.StreamResponse:
    doc_id = request.match_info["doc_id"]
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    try:
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters")
        sub = await _shown_submission(request, doc_id, form)
        by = current_user(request).name
        await asyncio.to_thread(reviews.reject, archive_of(request), doc_id, by, reason)
    except NotFound as exc:
        return await _nothing_waiting(request, doc_id, exc)
    except InvalidInput as exc:
        return await _doc_page(request, doc_id, error=str(exc), status=400)
    await audit(request, "review_reject", doc_id,
                {"status": Status.REVIEW.value, "version": sub.version, "submitted_by": sub.submitted_by},
                {"status": Status.DRAFT.value, "reason": reason})
    raise web.HTTPSeeOther(review_path(doc_id, "?rejected=1"))


# -- the negative list --------------------------------------------------------------------------------------
MAX_NEGATIVE_LIST_BYTES = 60_000  # ~20,000 Chinese characters; its form stays under the app's 256 KB limit


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return ""


def _write_text(path: Path, text: str) -> None:
    """Replace the file whole (a temporary file renamed over it), so the checks never read half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


async def _negative_page(request: web.Request, message: str = "", error: str = "", text: str | None = None,
                         status: int = 200) -> web.Response:
    path = request.app[SETTINGS].paths.negative_list
    current = await asyncio.to_thread(_read_text, path)
    shown = current if text is None else text
    return render(request, "admin/review_negative.html", {
        "text": shown, "terms": await asyncio.to_thread(load_negative_list, path), "message": message,
        "error": error, "max_bytes": MAX_NEGATIVE_LIST_BYTES,
    }, status=status)


@require("admin")
async def negative_list_page(request: web.Request) -> web.StreamResponse:
    return await _negative_page(request)


@require("admin")
async def save_negative_list(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("terms", "")).replace("\r\n", "\n").replace("\r", "\n")
    if len(text.encode("utf-8")) > MAX_NEGATIVE_LIST_BYTES:
        return await _negative_page(request, error=f"the list is longer than {MAX_NEGATIVE_LIST_BYTES} bytes",
                                    text=text, status=400)
    text = text.rstrip("\n") + "\n" if text.strip() else ""
    path = request.app[SETTINGS].paths.negative_list
    before = await asyncio.to_thread(_read_text, path)
    if text != before:
        await asyncio.to_thread(_write_text, path, text)
        await audit(request, "negative_list_save", str(path.name), before, text)
    terms = await asyncio.to_thread(load_negative_list, path)
    return await _negative_page(request, message=f"已保存 Saved: {len(terms)} 个词条 term(s).")


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/admin/negative-list", negative_list_page),
    ("POST", "/admin/negative-list", save_negative_list),
    ("GET", "/admin/review", queue_page),
    ("GET", "/admin/review/{doc_id}", doc_page),
    ("POST", "/admin/review/{doc_id}/submit", submit),
    ("POST", "/admin/review/{doc_id}/approve", approve),
    ("POST", "/admin/review/{doc_id}/reject", reject),
]
