"""`GET /api/catalog/changes?since=SEQ&limit=N`: this instance's published catalog as a change feed, for
the instances that subscribe to it (``civic peers add``; docs/catalog.md "Sharing between instances").

- Auth: ``Authorization: Bearer <token>`` with an API token of scope ``feeds`` (``civic tokens add NAME
  --scope feeds``); anything else is 401.
- Body (``application/x-ndjson``): one line per document of this instance's own public catalog that changed
  after ``since``, in change order — ``{"seq": S, "record": {catalog record with body}}`` (the record as
  ``archive/catalog_schema.json`` defines it, its lifecycle included: status, reason, replacement) or
  ``{"seq": S, "id": ID, "withdrawn": true}`` for a document taken back out of the public catalog — then a
  trailer ``{"next_since": N, "latest": L, "more": bool}``: ask again with ``since=N``; ``more`` says a page
  came back full.  Documents this instance got from a peer are not re-shared (``archive.peers``).
- ``ETag`` names the archive's latest change with the request's since and limit; ``If-None-Match`` with it
  answers 304 without reading a document.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from app.keys import ACCOUNTS, ARCHIVE
from app.middlewares import json_error
from archive.peers import feed_page
from core.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number, not {raw[:20]!r}") from exc


def _unauthorized() -> web.Response:
    response = json_error(401, "feed token missing or wrong: send 'Authorization: Bearer <token>' with a"
                               " token of scope feeds", "Unauthorized")
    response.headers["WWW-Authenticate"] = 'Bearer realm="civic-feeds"'
    return response


async def changes(request: web.Request) -> web.StreamResponse:
    accounts, archive = request.app.get(ACCOUNTS), request.app.get(ARCHIVE)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if accounts is None or scheme.lower() != "bearer" or not presented.strip():
        return _unauthorized()
    if await asyncio.to_thread(accounts.check_token, presented.strip(), "feeds") is None:
        return _unauthorized()
    if archive is None:
        raise web.HTTPServiceUnavailable(reason="the archive is not open")
    since, limit = _int(request, "since", 0), _int(request, "limit", DEFAULT_LIMIT)
    if since < 0 or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"since must be 0 or more and limit between 1 and {MAX_LIMIT}")
    latest = await asyncio.to_thread(archive.latest_change)
    etag = f'"{latest}-{since}-{limit}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    page = await asyncio.to_thread(feed_page, archive, since, limit)
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in page.lines)
    body += json.dumps({"next_since": page.next_since, "latest": page.latest, "more": page.more}) + "\n"
    headers["X-Next-Since"] = str(page.next_since)
    return web.Response(text=body, content_type="application/x-ndjson", charset="utf-8", headers=headers)


def setup_feed_routes(app: web.Application) -> None:
    app.router.add_get("/api/catalog/changes", changes)
