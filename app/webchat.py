"""The citizen web chat's page at /, its static assets and its security headers (the socket and the chat API
are the web connector's, ``connectors/web.py``).

Its security headers (no inline script: every script and style is a file under /webchat/static/; no
framing; no referrer) are the ones every page gets, from app/headers.py.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from app.keys import SETTINGS

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/webchat/static"



async def _cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX + "/"):
        response.headers.setdefault("Cache-Control", "no-cache")


def setup_webchat_page(app: web.Application) -> None:
    """Register / and the static assets, and the security headers on the web chat's responses."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    async def index(request: web.Request) -> web.Response:
        chars = str(int(request.app[SETTINGS].max_text_chars))
        return web.Response(
            text=page.replace("{{MAX_CHARS}}", chars),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    app.router.add_get("/", index)
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, append_version=False)
    app.on_response_prepare.append(_cache_headers)
