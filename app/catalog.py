"""The public catalog (政府信息公开目录), no sign-in, server-rendered, no JavaScript:

  GET /catalog                          navigation by 机构 / 主题 / 体裁 / 服务对象 with counts, the combined
                                        search (words, 文号, 索引号, agency, dates, type, validity), paged
  GET /catalog/browse/{facet}           every value of one element with its count
  GET /catalog/doc/{id}                 a document: every catalog element, its validity, its public version
                                        history, its replacement, downloads
  GET /catalog/doc/{id}/v/{n}           one earlier public version
  GET /catalog/doc/{id}/record.json     the catalog record (archive/catalog_schema.json), validated
  GET /catalog/doc/{id}/text.txt        the plain text
  GET /catalog/doc/{id}/original        the file it was imported from, when that file is kept in the home
  GET /catalog/feed.atom                newly published and newly abolished documents (Atom)
  GET /sitemap.xml                      the catalog's pages

Only published, expired and abolished documents are public: a draft or a document in review is a 404
everywhere here, and a version that was a draft never shows in a history.  Validity is the archive's rule
(``Document.is_current``; ``DocQuery``'s expired and abolished), the replacement the citations' rule
(``retrieval.citations.replacement``).  Every read runs off the event loop.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from aiohttp import web

from app.admin.doc_forms import (
    LABELS,
    LIST_PARAMS,
    MAX_QUERY_CHARS,
    STATUS_LABELS,
    TYPE_LABELS,
    VALIDITY_LABELS,
    listing_from_query,
)
from app.admin.web import environment
from app.feeds import setup_feed_routes
from app.keys import ARCHIVE, SETTINGS
from archive import catalog as records
from archive import peers as sharing
from archive.models import DocType, Document, Status
from archive.store import Archive, DocQuery
from core.errors import InvalidInput, NotFound
from retrieval.citations import replacement

PUBLIC = (Status.PUBLISHED, Status.EXPIRED, Status.ABOLISHED)
PAGE_SIZE = 20
FACETS = ("issuer", "topic", "genre", "audience")
FACET_NAMES = {
    "issuer": "机构 Agency", "topic": "主题 Topic", "genre": "体裁 Genre", "audience": "服务对象 Audience",
}
FACET_SHOWN = 12  # values per element on the front page (the most documents first); the rest on its own page
CHOICES_MAX = 40  # an element with at most this many values is a <select> in the search form, else a text box
BROWSE_PAGE = 200  # values per page of /catalog/browse/{facet}
BODY_SHOWN = 8000  # characters of the text on a document page (the whole text is a download)
HISTORY_SHOWN = 30  # latest public versions listed on a document page
SUMMARY_SHOWN = 120  # characters of a summary in a result
FEED_ENTRIES = 50
SITEMAP_MAX = 50_000  # the sitemap protocol's limit per file
ORIGINAL_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".ofd": "application/ofd",
    ".wps": "application/vnd.ms-works",
}  # anything else is sent as application/octet-stream; every original is an attachment
VALIDITY_NAMES = {**VALIDITY_LABELS, "pending": "尚未生效 not yet in force"}
PARAMS = (*LIST_PARAMS, "doc_no", "index_no", "level")
LEVEL_CHOICES = (*sharing.LEVELS, "local")  # level=: documents shared from that level, or this instance's own
CACHE = "public, max-age=60"
CATALOG_CACHE: web.AppKey[dict[str, Any]] = web.AppKey("catalog_cache", dict)
STATIC_DIR = Path(__file__).resolve().parent / "static" / "public"


def today() -> str:
    return date.today().isoformat()


def validity(doc: Document, on: str) -> str:
    """current | expired | abolished | pending (published, 有效期 not begun): DocQuery's validity rule."""
    if doc.is_current(on):
        return "current"
    if doc.status is Status.ABOLISHED:
        return "abolished"
    if doc.status is Status.EXPIRED or (doc.valid_until and on > doc.valid_until):
        return "expired"
    return "pending"


def is_public(doc: Document | None, hidden: frozenset[str] = frozenset()) -> bool:
    """Published, expired or abolished, and not shared by a peer that is switched off (``hidden``)."""
    return doc is not None and doc.status in PUBLIC and not (doc.origin and doc.origin in hidden)


def doc_href(doc_id: str) -> str:
    return "/catalog/doc/" + quote(doc_id, safe="")


# -- reads (in a worker thread) ----------------------------------------------------------------------
@dataclass
class Facet:
    name: str
    label: str
    values: list[tuple[str, int]]  # (value, documents), the most documents first
    total: int  # how many distinct values


def facets(archive: Archive, cache: dict[str, Any]) -> list[Facet]:
    """The four navigation elements with counts over the public documents, recomputed only after a change."""
    seq = archive.latest_change()
    if cache.get("facets_seq") != seq:
        cache["facets"] = {name: archive.facet_counts(name, PUBLIC) for name in FACETS}
        cache["facets_seq"] = seq
    out = []
    for name in FACETS:
        counted: list[tuple[str, int]] = cache["facets"][name]
        top = sorted(counted, key=lambda vc: (-vc[1], vc[0]))[:FACET_SHOWN]
        out.append(Facet(name, FACET_NAMES[name], top, len(counted)))
    if cache.get("levels_seq") != seq:
        cache["levels"] = archive.facet_counts("origin_level", PUBLIC)
        cache["levels_seq"] = seq
    if cache["levels"]:  # 四级资源共享: only once documents are shared from other levels
        out.append(Facet("level", "层级 Level", cache["levels"], len(cache["levels"])))
    return out


@dataclass
class Search:
    values: dict[str, str]
    query: DocQuery
    page: int
    error: str = ""
    filtered: bool = False


def parse_search(params: Any, on: str) -> Search:
    """The search form's GET parameters (the console's listing rule, plus 文号 and 索引号; no status: the
    public catalog shows only public documents)."""
    kept = {name: str(params.get(name, "")).strip() for name in PARAMS}
    for name in ("doc_no", "index_no"):
        if len(kept[name]) > MAX_QUERY_CHARS:
            raise InvalidInput(f"{name} is longer than {MAX_QUERY_CHARS} characters")
    listing = listing_from_query({**{k: v for k, v in kept.items() if k != "status"},
                                  "page": params.get("page", "")}, on)
    if kept["level"] and kept["level"] not in LEVEL_CHOICES:
        raise InvalidInput(f"level must be one of {', '.join(LEVEL_CHOICES)}, not {kept['level'][:20]!r}")
    query = replace(listing.query, doc_no=kept["doc_no"], index_no=kept["index_no"],
                    statuses=tuple(s.value for s in PUBLIC), origin_level=kept["level"])
    kept.pop("status")
    return Search(kept, query, listing.page, filtered=any(kept.values()))


@dataclass
class Result:
    doc: Document
    validity: str
    summary: str


def search(archive: Archive, wanted: Search, on: str) -> tuple[int, list[Result]]:
    query = replace(wanted.query, hidden_origins=tuple(sorted(sharing.hidden_origins(archive))))
    total, docs = archive.search_documents(query, limit=PAGE_SIZE,
                                           offset=(wanted.page - 1) * PAGE_SIZE, order="newest")
    out = []
    for doc in docs:
        summary = doc.summary or doc.body
        if len(summary) > SUMMARY_SHOWN:
            summary = summary[:SUMMARY_SHOWN] + "…"
        out.append(Result(doc, validity(doc, on), summary))
    return total, out


@dataclass
class Version:
    version: int
    date: str
    status: str
    title: str
    href: str


@dataclass
class DocPage:
    doc: Document
    validity: str
    replacement: Document | None
    history: list[Version]
    older: int  # public versions not listed
    body: str
    truncated: bool
    has_original: bool
    shown_version: int = 0  # set when an earlier version is shown
    guide: dict[str, Any] = field(default_factory=dict)


def original_path(doc: Document, originals: Path) -> Path | None:
    """The file ``doc`` was imported from, when it is a regular file inside ``originals`` (symbolic links
    resolved first, so no link or ``..`` can lead outside); else None."""
    if not doc.source:
        return None
    try:
        root = originals.resolve(strict=True)
        path = Path(doc.source)
        path = (path if path.is_absolute() else root / path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not path.is_relative_to(root) or path == root or not path.is_file():
        return None
    return path


def public_history(archive: Archive, doc: Document) -> list[Document]:
    return [v for v in archive.history(doc.id) if v.status in PUBLIC]


def doc_page(archive: Archive, doc_id: str, on: str, originals: Path, version: int = 0) -> DocPage:
    current = archive.find(doc_id)
    if not is_public(current, sharing.hidden_origins(archive)):
        raise NotFound(f"no public document with id {doc_id!r}")
    assert current is not None
    shown = current
    versions = public_history(archive, current)
    if version and version != current.version:
        found = [v for v in versions if v.version == version]
        if not found:
            raise NotFound(f"no public version {version} of document {doc_id!r}")
        shown = found[0]
    href = doc_href(doc_id)
    listed = [
        Version(v.version, v.updated_at[:10], STATUS_LABELS[v.status], v.title,
                href if v.version == current.version else f"{href}/v/{v.version}")
        for v in reversed(versions)
    ]
    body = shown.body[:BODY_SHOWN]
    return DocPage(
        doc=shown, validity=validity(shown, on),
        replacement=replacement(archive, shown, on) if shown.replaced_by else None,
        history=listed[:HISTORY_SHOWN], older=max(0, len(listed) - HISTORY_SHOWN), body=body,
        truncated=len(shown.body) > BODY_SHOWN,
        has_original=shown is current and original_path(current, originals) is not None,
        shown_version=shown.version if shown is not current else 0, guide=shown.guide_fields(),
    )


def public_doc(archive: Archive, doc_id: str) -> Document:
    doc = archive.find(doc_id)
    if not is_public(doc, sharing.hidden_origins(archive)):
        raise NotFound(f"no public document with id {doc_id!r}")
    assert doc is not None
    return doc


def plain_text(doc: Document, on: str) -> str:
    """The document as plain text: its title, every filled catalog element by its name, then the text."""
    lines = [doc.title, "", f"{LABELS['type']}: {TYPE_LABELS[doc.type]}"]
    for name in records.required():
        value = getattr(doc, name)
        if name in ("id", "title", "type", "status") or not value:
            continue
        text = "、".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{LABELS[name]}: {text}")
    lines.append(f"有效性 Validity: {VALIDITY_NAMES[validity(doc, on)]}")
    for name, value in doc.guide_fields().items():
        text = "\n  ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{LABELS[name]}: {text}")
    return "\n".join([*lines, "", doc.body, ""])


# -- pages --------------------------------------------------------------------------------------------
def _archive(request: web.Request) -> Archive:
    archive = request.app.get(ARCHIVE)
    if archive is None:
        raise web.HTTPServiceUnavailable(reason="the archive is not open")
    return archive


def _page(template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    html = environment().get_template(template).render(
        **context, labels=LABELS, type_labels=TYPE_LABELS, validity_names=VALIDITY_NAMES,
        facet_names=FACET_NAMES, doc_href=doc_href, level_names=sharing.LEVEL_NAMES,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": CACHE})


def _query_string(values: dict[str, str], **changes: Any) -> str:
    merged = {**{k: v for k, v in values.items() if v}, **{k: str(v) for k, v in changes.items() if v}}
    return "?" + urlencode(merged) if merged else ""


async def index(request: web.Request) -> web.Response:
    archive, on = _archive(request), today()
    status, error = 200, ""
    try:
        wanted = parse_search(request.query, on)
    except InvalidInput as exc:
        wanted, status, error = parse_search({}, on), 400, str(exc)
        wanted.values.update({k: str(request.query.get(k, ""))[:MAX_QUERY_CHARS] for k in PARAMS
                              if k != "status"})
    navigation = await asyncio.to_thread(facets, archive, request.app[CATALOG_CACHE])
    origins = await asyncio.to_thread(sharing.origins, archive)
    total, results = await asyncio.to_thread(search, archive, wanted, on)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    counted: dict[str, list[tuple[str, int]]] = request.app[CATALOG_CACHE]["facets"]
    choices = {name: [v for v, _ in counted[name]] if len(counted[name]) <= CHOICES_MAX else None
               for name in FACETS}
    return _page("public/catalog.html", {
        "choices": choices, "page_size": PAGE_SIZE,
        "facets": navigation, "search": wanted, "total": total, "results": results, "page": wanted.page,
        "pages": pages, "error": error, "types": [t.value for t in DocType],
        "validities": list(VALIDITY_LABELS), "href": lambda **kw: _query_string(wanted.values, **kw),
        "facet_href": lambda name, value: "/catalog" + _query_string({name: value}),
        "levels": LEVEL_CHOICES, "origin_of": lambda d: _origin_name(origins, d),
    }, status)


def _origin_name(origins: dict[str, sharing.Origin], doc: Document) -> str:
    """A shared document's source as shown (the peer's label), "" for this instance's own."""
    if not doc.origin:
        return ""
    found = origins.get(doc.origin)
    return found.shown_as if found is not None else doc.origin


async def browse(request: web.Request) -> web.Response:
    name = request.match_info["facet"]
    if name not in FACETS:
        raise NotFound(f"no catalog element {name!r} to browse by")
    archive = _archive(request)
    await asyncio.to_thread(facets, archive, request.app[CATALOG_CACHE])
    counted: list[tuple[str, int]] = request.app[CATALOG_CACHE]["facets"][name]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, math.ceil(len(counted) / BROWSE_PAGE))
    page = min(page, pages)
    return _page("public/catalog_browse.html", {
        "name": name, "label": FACET_NAMES[name],
        "values": counted[(page - 1) * BROWSE_PAGE: page * BROWSE_PAGE],
        "total": len(counted), "page": page, "pages": pages,
        "facet_href": lambda value: "/catalog" + _query_string({name: value}),
    })


def _version(request: web.Request) -> int:
    raw = request.match_info.get("version")
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) < 1:
        raise NotFound(f"no version {raw!r}")
    return int(raw)


async def document(request: web.Request) -> web.Response:
    archive, on = _archive(request), today()
    try:
        page = await asyncio.to_thread(doc_page, archive, request.match_info["doc_id"], on,
                                       request.app[SETTINGS].paths.originals_dir, _version(request))
    except NotFound as exc:  # a person's browser gets a page, not the API's JSON
        return _page("public/catalog_missing.html", {"message": str(exc)}, status=404)
    origins = await asyncio.to_thread(sharing.origins, archive)
    return _page("public/catalog_doc.html", {"p": page, "d": page.doc, "today": on,
                                             "origin": _origin_name(origins, page.doc)})


async def record_json(request: web.Request) -> web.Response:
    doc = await asyncio.to_thread(public_doc, _archive(request), request.match_info["doc_id"])
    record = records.to_record(doc)
    records.validate(record)  # a record this archive serves is always a valid one (a test breaks it)
    body = "".join(records.jsonl_lines([record]))
    return web.Response(text=body, content_type="application/json", charset="utf-8", headers={
        "Cache-Control": CACHE,
        "Content-Disposition": _attachment(f"{doc.id}.json"),
        "Link": '</catalog/schema.json>; rel="describedby"',
    })


async def schema_json(request: web.Request) -> web.Response:
    return web.Response(text=records.SCHEMA_PATH.read_text(encoding="utf-8"),
                        content_type="application/schema+json", charset="utf-8",
                        headers={"Cache-Control": CACHE})


async def text_txt(request: web.Request) -> web.Response:
    doc = await asyncio.to_thread(public_doc, _archive(request), request.match_info["doc_id"])
    return web.Response(text=plain_text(doc, today()), content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": CACHE, "Content-Disposition": _attachment(f"{doc.id}.txt")})


def _attachment(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def original(request: web.Request) -> web.StreamResponse:
    archive = _archive(request)
    doc = await asyncio.to_thread(public_doc, archive, request.match_info["doc_id"])
    path = await asyncio.to_thread(original_path, doc, request.app[SETTINGS].paths.originals_dir)
    if path is None:
        raise NotFound(f"document {doc.id!r} has no original file kept")
    kind = ORIGINAL_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return web.FileResponse(path, headers={
        "Content-Type": kind, "Content-Disposition": _attachment(doc.id + path.suffix.lower()),
        "Cache-Control": CACHE, "Content-Security-Policy": "sandbox; default-src 'none'",
    })


# -- feed and sitemap ---------------------------------------------------------------------------------
def base_url(request: web.Request) -> str:
    configured = request.app[SETTINGS].public_url.rstrip("/")
    return configured or str(request.url.origin())


def atom(archive: Archive, base: str) -> str:
    hidden = sharing.hidden_origins(archive)
    events = [d for d in archive.status_changes(to=(Status.PUBLISHED, Status.ABOLISHED), shown=PUBLIC,
                                                limit=FEED_ENTRIES) if is_public(d, hidden)]
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"  # a tag URI: no port
    updated = events[0].updated_at if events else "1970-01-01T00:00:00Z"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">',
        "<title>政府信息公开目录：新发布和新废止的文件 New and abolished documents</title>",
        f'<id>tag:{escape(host)},2026:catalog</id><updated>{escape(updated)}</updated>',
        f'<link rel="self" href="{escape(base)}/catalog/feed.atom"/><link href="{escape(base)}/catalog"/>',
    ]
    for doc in events:
        what = "已废止 Abolished" if doc.status is Status.ABOLISHED else "已发布 Published"
        said = doc.status_reason if doc.status is Status.ABOLISHED else doc.summary
        summary = "；".join(x for x in (doc.doc_no, doc.issuer, doc.issued_on, said) if x)
        parts.append(
            f"<entry><title>{escape(what)}：{escape(doc.title)}</title>"
            f"<id>tag:{escape(host)},2026:catalog/{escape(quote(doc.id, safe=''))}/v{doc.version}</id>"
            f"<updated>{escape(doc.updated_at)}</updated>"
            f'<link href="{escape(base + doc_href(doc.id))}"/>'
            f"<category term=\"{doc.status.value}\"/>"
            + (f"<author><name>{escape(doc.issuer)}</name></author>" if doc.issuer else "")
            + f"<summary>{escape(summary[:500])}</summary></entry>"
        )
    parts.append("</feed>\n")
    return "\n".join(parts)


def _cached(archive: Archive, cache: dict[str, Any], key: str, make: Any, base: str) -> str:
    """``make(archive, base)``, kept until the archive's next change (or another base URL)."""
    stamp = (archive.latest_change(), base, sharing.hidden_origins(archive))  # a peer switched off: anew
    if cache.get(key + "_stamp") != stamp:
        cache[key] = make(archive, base)
        cache[key + "_stamp"] = stamp
    text: str = cache[key]
    return text


async def feed(request: web.Request) -> web.Response:
    text = await asyncio.to_thread(_cached, _archive(request), request.app[CATALOG_CACHE], "feed", atom,
                                   base_url(request))
    return web.Response(text=text, content_type="application/atom+xml", charset="utf-8",
                        headers={"Cache-Control": CACHE})


def sitemap_xml(archive: Archive, base: str) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
             f"<url><loc>{escape(base)}/catalog</loc></url>",
             f"<url><loc>{escape(base)}/public/abolished</loc></url>"]
    hidden = sharing.hidden_origins(archive)
    shown = (d for d in archive.iter_documents(statuses=PUBLIC) if is_public(d, hidden))
    for n, doc in enumerate(shown):
        if n >= SITEMAP_MAX - 2:
            break
        parts.append(f"<url><loc>{escape(base + doc_href(doc.id))}</loc>"
                     f"<lastmod>{escape(doc.updated_at[:10])}</lastmod></url>")
    parts.append("</urlset>\n")
    return "\n".join(parts)


async def sitemap(request: web.Request) -> web.Response:
    text = await asyncio.to_thread(_cached, _archive(request), request.app[CATALOG_CACHE], "sitemap",
                                   sitemap_xml, base_url(request))
    return web.Response(text=text, content_type="application/xml", charset="utf-8",
                        headers={"Cache-Control": CACHE})


def setup_catalog_routes(app: web.Application) -> None:
    app[CATALOG_CACHE] = {}
    app.router.add_static("/catalog/static", STATIC_DIR, append_version=True)
    app.router.add_get("/catalog", index)
    app.router.add_get("/catalog/schema.json", schema_json)
    app.router.add_get("/catalog/feed.atom", feed)
    app.router.add_get("/catalog/browse/{facet}", browse)
    app.router.add_get("/catalog/doc/{doc_id}", document)
    app.router.add_get("/catalog/doc/{doc_id}/v/{version}", document)
    app.router.add_get("/catalog/doc/{doc_id}/record.json", record_json)
    app.router.add_get("/catalog/doc/{doc_id}/text.txt", text_txt)
    app.router.add_get("/catalog/doc/{doc_id}/original", original)
    app.router.add_get("/sitemap.xml", sitemap)
    setup_feed_routes(app)  # GET /api/catalog/changes: the change feed other instances subscribe to
