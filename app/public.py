"""Public pages, no sign-in: ``GET /public/abolished`` lists the abolished and expired documents (the archive
standard asks that the clean-up result be made public).

Each entry shows the title, 文号 and issuing agency, the status, the date it took effect (the day the
document was abolished or expired in the archive; for an expired one, its 有效期 end when that is set), the
reason and the replacement (its title, linked to its official page when it has one).  Server-rendered,
newest first, 50 to a page (``?page=``).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.admin.web import environment
from app.keys import ARCHIVE
from archive.models import Document, Status
from archive.store import Archive

PAGE_SIZE = 50
SHOWN = (Status.ABOLISHED, Status.EXPIRED)
STATUS_NAMES = {Status.ABOLISHED: "已废止 Abolished", Status.EXPIRED: "已失效 Expired"}


@dataclass
class Entry:
    doc: Document
    status_label: str
    since: str  # ISO date
    replacement: Document | None


def since(archive: Archive, doc: Document) -> str:
    """The date ``doc`` took its current status: the first version of its latest run in that status (for an
    expired document with a 有效期 end, that end)."""
    if doc.status is Status.EXPIRED and doc.valid_until:
        return doc.valid_until
    first = doc
    for version in reversed(archive.history(doc.id)):
        if version.status is not doc.status:
            break
        first = version
    return first.updated_at[:10]


def entries(archive: Archive) -> list[Entry]:
    """Every abolished and expired document, newest first."""
    out = []
    for doc in archive.iter_documents(statuses=SHOWN):
        replacement = archive.find(doc.replaced_by) if doc.replaced_by else None
        if replacement is not None and replacement.status in (Status.DRAFT, Status.REVIEW):
            replacement = None  # not public yet
        out.append(Entry(doc, STATUS_NAMES[doc.status], since(archive, doc), replacement))
    out.sort(key=lambda e: (e.since, e.doc.id), reverse=True)
    return out


async def abolished(request: web.Request) -> web.Response:
    archive = request.app.get(ARCHIVE)
    if archive is None:
        raise web.HTTPServiceUnavailable(reason="the archive is not open")
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    found = await asyncio.to_thread(entries, archive)
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(page, pages)
    context: dict[str, Any] = {
        "entries": found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], "total": len(found), "page": page,
        "pages": pages,
    }
    html = environment().get_template("public/abolished.html").render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=60"})


def setup_public_routes(app: web.Application) -> None:
    app.router.add_get("/public/abolished", abolished)
