"""The citizen web chat's page at /, its static assets and its security headers (the socket and the chat API
are the web connector's, ``connectors/web.py``).

Security headers for the page: a Content-Security-Policy with no inline script (every script and style
is a file under /webchat/static/), no framing, no referrer.  The page and its assets come from this app
only (no CDN), so the chat works inside a government intranet.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from app.keys import SETTINGS

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/webchat/static"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _is_webchat_path(path: str) -> bool:
    return path == "/" or path.startswith(STATIC_PREFIX + "/") or path.startswith("/api/webchat/")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if _is_webchat_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
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
    app.on_response_prepare.append(_security_headers)
