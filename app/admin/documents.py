"""Documents in the console: list and filter, read with versions and diffs, create, edit, import, lifecycle.

  GET  /admin/documents[?q&type&status&issuer&topic&genre&audience&issued_from&issued_to&validity&page]
                                        the archive, filtered (a plain GET form: works without JS)
  GET  /admin/documents/new             the create form;  POST /admin/documents  creates a draft
  GET  /admin/documents/upload          the import form;  POST …/upload  imports files (the importers)
  GET  /admin/documents/{id}[?from&to&replace_q]
                                        every field, the versions, a diff between two of them, the
                                        lifecycle buttons (with a replacement search)
  GET  /admin/documents/{id}/edit       the edit form;  POST /admin/documents/{id}  saves a new version
  POST /admin/documents/{id}/status     a lifecycle move: ``to`` = expired | abolished | published

Reviewers and admins read; editors (and admins) write.  Every change is audited with before and after.

The lifecycle (``archive.models.TRANSITIONS``) allows draft → published, but the console never offers it:
a draft or a document in review is published only by a reviewer's approval (the review section), so the
moves here are the ones that follow publication (:data:`CONSOLE_MOVES`).  An edit never puts new content in
front of citizens unreviewed either (:func:`status_after_edit`): editing a published document, or one in
review, saves the new version in review and submits it (``app.admin.review.submit_for_review``: the checks
run again).
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import BodyPartReader, web

from app.admin.doc_diff import diff_documents
from app.admin.doc_forms import (
    CATALOG_FIELDS,
    DATE_FIELDS,
    HINTS,
    LABELS,
    LIST_FIELDS,
    LONG_FIELDS,
    PAGE_SIZE,
    REQUIRED_FIELDS,
    STATUS_LABELS,
    TYPE_LABELS,
    VALIDITY_LABELS,
    FormResult,
    document_from_form,
    document_values,
    listing_from_query,
)
from app.admin.review import submit_for_review
from app.admin.web import archive_of, audit, render, require, today
from app.keys import SETTINGS
from archive.importers import FORMATS, ImportReport, import_paths
from archive.models import GUIDE_FIELDS, TRANSITIONS, DocType, Document, Status
from archive.store import Archive, Change, DocQuery
from core.errors import InvalidInput, NotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ = ("reviewer", "editor")
WRITE = ("editor",)
MAX_REASON_CHARS = 500
MAX_UPLOAD_FILES = 20
REPLACEMENT_CHOICES = 20
RESERVED_IDS = frozenset({"new", "upload"})  # paths of this section

# The lifecycle moves this page offers: those of TRANSITIONS that follow publication.  Publishing a draft
# or a document in review (TRANSITIONS allows both) is the reviewer's approval; sending to review and back
# belong to the review section too.
CONSOLE_MOVES: frozenset[tuple[Status, Status]] = frozenset(
    (src, dst)
    for src, targets in TRANSITIONS.items()
    for dst in targets
    if dst in (Status.EXPIRED, Status.ABOLISHED)
    or (dst is Status.PUBLISHED and src in (Status.EXPIRED, Status.ABOLISHED))
)
MOVE_LABELS = {
    Status.EXPIRED: "标记失效 Expire",
    Status.ABOLISHED: "废止 Abolish",
    Status.PUBLISHED: "重新发布 Republish",
}


def moves_from(status: Status) -> list[Status]:
    """The console's moves from ``status``, in a fixed order (expire, abolish, republish)."""
    return [dst for dst in MOVE_LABELS if (status, dst) in CONSOLE_MOVES]


def status_after_edit(doc: Document) -> Status:
    """The status an edited document is saved with, so that new content never reaches citizens unreviewed:
    a draft stays a draft; a document in review or a published one (TRANSITIONS: published → review) is
    saved in review and submitted again, so it leaves the chat until a reviewer approves the new version.
    Expired and abolished documents are the record of what was in force: they are not edited (republish
    first)."""
    if doc.status is Status.DRAFT:
        return Status.DRAFT
    if doc.status in (Status.REVIEW, Status.PUBLISHED):
        return Status.REVIEW
    raise InvalidInput(
        f"{doc.id} is {doc.status.value}: an expired or abolished document is kept as it was; "
        "republish it to change it"
    )




def doc_path(doc_id: str, tail: str = "") -> str:
    return f"/admin/documents/{quote(doc_id, safe='')}{tail}"


def _common() -> dict[str, Any]:
    return {
        "labels": LABELS, "type_labels": {t.value: v for t, v in TYPE_LABELS.items()},
        "status_labels": {s.value: v for s, v in STATUS_LABELS.items()}, "doc_path": doc_path,
    }


# -- the list ------------------------------------------------------------------------------------------------
@require(*READ)
async def list_page(request: web.Request) -> web.StreamResponse:
    archive = archive_of(request)
    try:
        listing = listing_from_query(request.query, today(request))
        error = ""
    except InvalidInput as exc:
        listing, error = listing_from_query({}, today(request)), str(exc)
    offset = (listing.page - 1) * PAGE_SIZE

    def read() -> tuple[int, list[Document], dict[str, list[str]]]:
        total, docs = archive.search_documents(listing.query, limit=PAGE_SIZE, offset=offset)
        facets = {name: archive.distinct(name) for name in ("issuer", "topic", "genre", "audience")}
        return total, docs, facets

    total, docs, facets = await asyncio.to_thread(read)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    kept = {k: v for k, v in listing.values.items() if v}

    def page_url(n: int) -> str:
        return "/admin/documents?" + urlencode({**kept, "page": n})

    return render(request, "admin/documents.html", {
        **_common(), "docs": docs, "total": total, "page": listing.page, "pages": pages,
        "prev_url": page_url(listing.page - 1) if listing.page > 1 else "",
        "next_url": page_url(listing.page + 1) if listing.page < pages else "",
        "values": listing.values, "facets": facets, "validity_labels": VALIDITY_LABELS,
        "error": error, "filtered": bool(kept), "today": today(request),
        "more_filters": any(v for k, v in kept.items() if k != "q"),
    }, status=400 if error else 200)


# -- one document --------------------------------------------------------------------------------------------
def _version_number(raw: str, default: int, latest: int) -> int:
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"version {raw!r} is not a number") from exc
    if not 1 <= number <= latest:
        raise InvalidInput(f"there is no version {number}: choose 1 to {latest}")
    return number


def _shown_fields(doc: Document) -> list[tuple[str, Any]]:
    """Every content field for the page (guide fields only for guides, unless they are filled)."""
    out: list[tuple[str, Any]] = []
    for name in ("id", *CATALOG_FIELDS, "status", "status_reason", "replaced_by", *GUIDE_FIELDS,
                 "version", "updated_at", "source"):
        value = getattr(doc, name)
        if name in GUIDE_FIELDS and doc.type is not DocType.GUIDE and not value:
            continue
        out.append((name, value.value if isinstance(value, DocType | Status) else value))
    return out


async def _doc_page(request: web.Request, doc_id: str, message: str = "", error: str = "",
                    status: int = 200) -> web.Response:
    archive = archive_of(request)
    query = request.query
    replace_q = query.get("replace_q", "").strip()[:200]

    def read() -> tuple[Document, list[Document], list[Document], Document | None]:
        doc = archive.get(doc_id)
        versions = archive.history(doc_id)
        found: list[Document] = []
        if replace_q:
            _, found = archive.search_documents(DocQuery(text=replace_q), limit=REPLACEMENT_CHOICES + 1)
        replacement = archive.find(doc.replaced_by) if doc.replaced_by else None
        return doc, versions, [d for d in found if d.id != doc_id][:REPLACEMENT_CHOICES], replacement

    doc, versions, candidates, replacement = await asyncio.to_thread(read)
    latest = versions[-1].version
    try:
        to_v = _version_number(query.get("to", ""), latest, latest)
        from_v = _version_number(query.get("from", ""), max(1, to_v - 1), latest)
    except InvalidInput as exc:
        to_v, from_v = latest, max(1, latest - 1)
        error, status = error or str(exc), 400
    notes = {"created": "草稿已保存 Draft saved.", "saved": "新版本已保存 New version saved."}
    note = next((text for key, text in notes.items() if query.get(key)), "")
    moved = query.get("moved", "")
    if moved in {s.value for s in Status}:
        note = f"状态已改为 Status changed to: {STATUS_LABELS[Status(moved)]}"
    by_number = {v.version: v for v in versions}
    diff = diff_documents(by_number[from_v], by_number[to_v]) if from_v != to_v else []
    return render(request, "admin/documents_show.html", {
        **_common(), "doc": doc, "fields": _shown_fields(doc), "versions": versions,
        "from_v": from_v, "to_v": to_v, "diff": diff, "moves": moves_from(doc.status),
        "move_labels": {s.value: label for s, label in MOVE_LABELS.items()},
        "replace_q": replace_q, "candidates": candidates, "replacement": replacement,
        "list_fields": LIST_FIELDS | {"keywords"}, "message": message, "error": error,
        "editable": doc.status in (Status.DRAFT, Status.REVIEW, Status.PUBLISHED),
        "request_note": note,
        "submit_url": review_submit_url(request, doc) if doc.status is Status.DRAFT else "",
    }, status=status)


REVIEW_SUBMIT = "/admin/review/{doc_id}/submit"  # the review section's route (app/admin/review.py)


def review_submit_url(request: web.Request, doc: Document) -> str:
    """Where "Submit for review" posts, or "" while the review section's route is not registered."""
    for resource in request.app.router.resources():
        if resource.canonical == REVIEW_SUBMIT:
            return REVIEW_SUBMIT.replace("{doc_id}", quote(doc.id, safe=""))
    return ""


def not_found(request: web.Request, exc: NotFound) -> web.Response:
    return render(request, "admin/error.html", {"status": 404, "message": str(exc)}, status=404)


def html_errors(handler: Handler) -> Handler:
    """An unknown document is a 404 page, not the API's JSON error."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound as exc:
            return not_found(request, exc)

    return wrapped


@require(*READ)
@html_errors
async def show_page(request: web.Request) -> web.StreamResponse:
    return await _doc_page(request, request.match_info["doc_id"])


# -- create and edit -----------------------------------------------------------------------------------------
def _form_page(request: web.Request, values: dict[str, str], errors: dict[str, str], doc: Document | None,
               status: int = 200, note: str = "") -> web.Response:
    return render(request, "admin/documents_form.html", {
        **_common(), "values": values, "errors": errors, "doc": doc, "catalog_fields": CATALOG_FIELDS,
        "guide_fields": GUIDE_FIELDS, "long_fields": LONG_FIELDS, "date_fields": DATE_FIELDS,
        "list_fields": LIST_FIELDS, "required": REQUIRED_FIELDS, "hints": HINTS,
        "types": [t.value for t in DocType], "note": note,
        "action": doc_path(doc.id) if doc else "/admin/documents",
    }, status=status)


def _edit_note(doc: Document) -> str:
    if status_after_edit(doc) is Status.DRAFT:
        return ""
    return ("保存后此文件重新提交审核，审核通过前不在对话中显示。 "
            "Saving submits this document for review again: citizens do not see the new version until a "
            "reviewer approves it.")


@require(*WRITE)
async def new_form(request: web.Request) -> web.StreamResponse:
    return _form_page(request, {"type": request.query.get("type", DocType.POLICY.value)}, {}, None)


@require(*WRITE)
async def create(request: web.Request) -> web.StreamResponse:
    archive = archive_of(request)
    form = await request.post()
    result = document_from_form(form, request.app[SETTINGS].max_body_chars)
    new_id = result.values.get("id", "").strip()
    if new_id in RESERVED_IDS:
        result.errors["id"] = f"id {new_id!r} is reserved for a page of the console: choose another"
    elif new_id and "id" not in result.errors and await asyncio.to_thread(archive.find, new_id) is not None:
        result.errors["id"] = f"a document with id {new_id!r} already exists: choose another id"
    if result.errors or result.document is None:
        return _form_page(request, result.values, result.errors, None, status=400)
    doc = result.document

    def add() -> Change:
        with archive.transaction():
            if archive.find(doc.id) is not None:  # created by someone else since the check above
                raise InvalidInput(f"a document with id {doc.id!r} already exists: choose another id")
            return archive.upsert(doc)

    try:
        await asyncio.to_thread(add)
    except InvalidInput as exc:
        return _form_page(request, result.values, {"id": str(exc)}, None, status=400)
    await audit(request, "document_create", doc.id, None, doc.content())
    raise web.HTTPSeeOther(doc_path(doc.id) + "?created=1")


@require(*WRITE)
@html_errors
async def edit_form(request: web.Request) -> web.StreamResponse:
    doc = await asyncio.to_thread(archive_of(request).get, request.match_info["doc_id"])
    try:
        note = _edit_note(doc)
    except InvalidInput as exc:
        return await _doc_page(request, doc.id, error=str(exc), status=409)
    return _form_page(request, document_values(doc), {}, doc, note=note)


@require(*WRITE)
@html_errors
async def save(request: web.Request) -> web.StreamResponse:
    archive = archive_of(request)
    doc_id = request.match_info["doc_id"]
    form = await request.post()
    before = await asyncio.to_thread(archive.get, doc_id)
    try:
        target = status_after_edit(before)
    except InvalidInput as exc:
        return await _doc_page(request, doc_id, error=str(exc), status=409)
    if str(form.get("version", "")) != str(before.version):
        values = document_from_form(form, request.app[SETTINGS].max_body_chars, before).values
        return _form_page(request, values, {}, before, status=409, note=(
            f"此文件已被修改（现为第 {before.version} 版）。 Someone saved version {before.version} "
            "since you opened this form: compare with the document page and save again."))
    result: FormResult = document_from_form(form, request.app[SETTINGS].max_body_chars, before)
    if result.errors or result.document is None:
        return _form_page(request, result.values, result.errors, before, status=400, note=_edit_note(before))
    doc = result.document
    doc.status = target
    if target is not before.status:
        doc.status_reason = ""

    def write() -> Change:
        with archive.transaction():
            if archive.get(doc_id).version != before.version:
                raise InvalidInput("someone saved this document meanwhile: reload it and edit again")
            return archive.upsert(doc)

    try:
        change = await asyncio.to_thread(write)
    except InvalidInput as exc:
        return _form_page(request, result.values, {}, before, status=409, note=str(exc))
    if change is Change.UNCHANGED:
        return await _doc_page(request, doc_id, message="没有改动 · nothing changed: no new version")
    await audit(request, "document_edit", doc_id, before.content(), doc.content())
    if target is Status.REVIEW:
        # the version in review must be the one the checks ran on: the review section submits it again
        try:
            await submit_for_review(request, doc_id)
        except InvalidInput as exc:
            return await _doc_page(request, doc_id, error=f"saved, but not submitted for review: {exc}",
                                   status=409)
    raise web.HTTPSeeOther(doc_path(doc_id) + f"?from={before.version}&to={doc.version}&saved=1")


# -- lifecycle -----------------------------------------------------------------------------------------------
@require(*WRITE)
@html_errors
async def change_status(request: web.Request) -> web.StreamResponse:
    archive = archive_of(request)
    doc_id = request.match_info["doc_id"]
    form = await request.post()
    raw_target = str(form.get("to", ""))
    reason = str(form.get("reason", "")).strip()
    replaced_by = str(form.get("replaced_by", "")).strip()
    before = await asyncio.to_thread(archive.get, doc_id)
    try:
        try:
            target = Status(raw_target)
        except ValueError:
            raise InvalidInput(f"unknown status {raw_target!r}") from None
        if (before.status, target) not in CONSOLE_MOVES:
            if target is Status.PUBLISHED and before.status in (Status.DRAFT, Status.REVIEW):
                raise InvalidInput(f"{doc_id} is {before.status.value}: a draft is published only by a "
                                   "reviewer's approval (submit it for review)")
            allowed = ", ".join(s.value for s in moves_from(before.status)) or "none here"
            raise InvalidInput(f"{doc_id}: cannot move from {before.status.value} to {target.value} "
                               f"(allowed here: {allowed})")
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters")
        if target is Status.ABOLISHED and not reason:
            raise InvalidInput("say why the document is abolished: the reason is shown to citizens")
        if target is Status.PUBLISHED:
            reason, replaced_by = "", ""  # republished: in force again, replaced by nothing
        after = await asyncio.to_thread(archive.set_status, doc_id, target, reason, replaced_by)
    except InvalidInput as exc:
        return await _doc_page(request, doc_id, error=str(exc), status=400)
    await audit(request, f"document_{target.value}", doc_id, before.content(), after.content())
    raise web.HTTPSeeOther(doc_path(doc_id) + f"?moved={target.value}")


# -- import --------------------------------------------------------------------------------------------------
@dataclass
class Upload:
    name: str
    data: bytes


_SAFE_NAME = re.compile(r"[^\w.\-]+")


def _safe_name(raw: str) -> str:
    """A file name fit for the temporary folder (the suffix picks the importer), never a path."""
    name = Path(raw.replace("\\", "/")).name
    return _SAFE_NAME.sub("_", name)[-100:] or "upload"


def size_text(n: int) -> str:
    """20 MB, 64 KB, 900 bytes."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.0f} {unit}" if n % size == 0 else f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _too_large(limit: int) -> InvalidInput:
    return InvalidInput(f"the upload is larger than {size_text(limit)}, the limit: split the file "
                        "or import it with `civic import` on the server")


async def _streamed_files(request: web.Request, limit: int) -> tuple[list[Upload], str]:
    """Read the multipart body part by part, stopping as soon as it passes ``limit`` bytes."""
    uploads: list[Upload] = []
    fmt, total = "auto", 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename is None:
            value = (await part.read(decode=True))[:200].decode("utf-8", "replace")
            if part.name == "format":
                fmt = value
            continue
        buffer = io.BytesIO()
        while chunk := await part.read_chunk():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            buffer.write(chunk)
        if part.filename:
            uploads.append(Upload(part.filename, buffer.getvalue()))
    return uploads, fmt


async def _posted_files(request: web.Request, limit: int) -> tuple[list[Upload], str]:
    """The form the CSRF check already read (a browser without JS sends the token as a form field)."""
    form = await request.post()
    uploads: list[Upload] = []
    total = 0
    for value in form.getall("files", []):
        if isinstance(value, web.FileField) and value.filename:
            data = await asyncio.to_thread(value.file.read)
            total += len(data)
            if total > limit:
                raise _too_large(limit)
            uploads.append(Upload(value.filename, data))
    return uploads, str(form.get("format", "auto"))


def _import(archive: Archive, uploads: list[Upload], fmt: str, max_body_chars: int,
            originals: Path | None = None) -> ImportReport:
    with tempfile.TemporaryDirectory(prefix="civic-upload-") as folder:
        paths, names, used = [], {}, set()
        for n, upload in enumerate(uploads):
            # the file's own name (it is the default id; a sidecar x.pdf.json must sit beside x.pdf)
            name = _safe_name(upload.name)
            name = f"{n:02d}-{name}" if name.lower() in used else name
            used.add(name.lower())
            path = Path(folder) / name
            path.write_bytes(upload.data)
            paths.append(path)
            names[str(path)] = upload.name
        # uploaded documents go through review like any draft: they never land published
        report = import_paths(archive, paths, fmt, max_body_chars, status=Status.DRAFT, originals=originals)
    for file in report.files:  # the person's file names, not the temporary ones
        file.path = names.get(file.path, file.path)
        for reject in file.rejects:
            reject.path = file.path
    return report


def _upload_page(request: web.Request, report: ImportReport | None = None, error: str = "",
                 status: int = 200) -> web.Response:
    limit = request.app[SETTINGS].max_upload_bytes
    return render(request, "admin/documents_upload.html", {
        **_common(), "formats": FORMATS, "report": report, "error": error, "status": status,
        "limit_bytes": limit, "limit_text": size_text(limit), "max_files": MAX_UPLOAD_FILES,
    }, status=status)


@require(*WRITE)
async def upload_form(request: web.Request) -> web.StreamResponse:
    return _upload_page(request)


@require(*WRITE)
async def upload(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    limit = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        return _upload_page(request, error=str(_too_large(limit)), status=413)
    try:
        if request.content_type != "multipart/form-data":
            raise InvalidInput("send the files as multipart/form-data (the upload form does)")
        if "X-CSRF-Token" in request.headers:  # the page's script: the body is still unread, stream it
            uploads, fmt = await _streamed_files(request, limit)
        else:
            uploads, fmt = await _posted_files(request, limit)
        if not uploads:
            raise InvalidInput("choose at least one file to import")
        if len(uploads) > MAX_UPLOAD_FILES:
            raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files at once")
        if fmt not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    except InvalidInput as exc:
        too_big = str(exc).startswith("the upload is larger")
        return _upload_page(request, error=str(exc), status=413 if too_big else 400)
    report = await asyncio.to_thread(_import, archive_of(request), uploads, fmt, settings.max_body_chars,
                                     settings.paths.originals_dir)
    summary = report.to_dict()
    await audit(request, "document_import", ", ".join(u.name for u in uploads)[:500], None,
                {"format": fmt, "totals": summary["totals"],
                 "files": [{"path": f.path, "added": f.added, "changed": f.changed, "rejected": f.rejected,
                            "error": f.error} for f in report.files]})
    return _upload_page(request, report=report, status=200)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/admin/documents", list_page),
    ("POST", "/admin/documents", create),
    ("GET", "/admin/documents/new", new_form),
    ("GET", "/admin/documents/upload", upload_form),
    ("POST", "/admin/documents/upload", upload),
    ("GET", "/admin/documents/{doc_id}", show_page),
    ("POST", "/admin/documents/{doc_id}", save),
    ("GET", "/admin/documents/{doc_id}/edit", edit_form),
    ("POST", "/admin/documents/{doc_id}/status", change_status),
]

