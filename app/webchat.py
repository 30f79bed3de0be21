"""The citizen web chat: the page at /, its static assets, and the web connector's routes.

Security headers for the page: a Content-Security-Policy with no inline script (every script and style
is a file under /webchat/static/), no framing, no referrer.  The page and its assets come from this app
only (no CDN), so the chat works inside a government intranet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from app import actions_endpoint
from app.history import History, Turn
from app.keys import CHAT, HISTORY, SETTINGS
from app.ratelimit import RateLimiter
from connectors.web import WebConnector

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/webchat/static"
WEB_CONNECTOR: web.AppKey[WebConnector] = web.AppKey("web_connector", WebConnector)

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


class _AppChat:
    """Resolves the app's ChatService at call time, so the factory may register it in any order."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    async def handle(self, session: str, text: str, language: str | None = None) -> Any:
        return await self.app[CHAT].handle(session, text, language)


def log_feedback_for_curation(app: web.Application, turn: Turn, value: str) -> None:
    """Thumbs go to the dialogue's curation log too (feedback_good / feedback_bad), with the answer."""
    conversations = app.get(actions_endpoint.CONVERSATIONS)
    if conversations is None:
        return
    messages = (turn.reply or {}).get("messages") or []
    conversations.log(
        "feedback_good" if value == "up" else "feedback_bad",
        turn.session,
        turn.text,
        {
            "key": turn.key,
            "answer": " ".join(str(m.get("text") or "") for m in messages)[:500],
            "citations": [c.get("id") for m in messages for c in (m.get("citations") or [])],
            "channel": "web",
        },
    )


def _is_webchat_path(path: str) -> bool:
    return path == "/" or path.startswith(STATIC_PREFIX + "/") or path.startswith("/api/webchat/")


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if _is_webchat_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(STATIC_PREFIX + "/"):
            response.headers.setdefault("Cache-Control", "no-cache")


def setup_webchat(app: web.Application, *, limiter: RateLimiter | None = None) -> None:
    """Register /, the static assets, /ws and the web chat's API on ``app``; open the history store."""
    connector = WebConnector(_AppChat(app), limiter=limiter)
    connector.feedback_hooks.append(log_feedback_for_curation)
    app[WEB_CONNECTOR] = connector
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    async def index(request: web.Request) -> web.Response:
        chars = str(int(request.app[SETTINGS].max_text_chars))
        return web.Response(
            text=page.replace("{{MAX_CHARS}}", chars),
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    async def history_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        history = History(settings.paths.app_db)
        app[HISTORY] = history
        connector.history = history
        connector.max_text_chars = settings.max_text_chars
        yield
        connector.history = None
        history.close()

    app.router.add_get("/", index)
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, append_version=False)
    connector.setup(app)
    app.cleanup_ctx.append(history_ctx)
    app.on_response_prepare.append(_security_headers)
