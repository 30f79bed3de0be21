"""The app's own HTTP routes: `/healthz`, the REST chat API `POST /api/chat`, the staff API (app/staff.py)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.health import healthz
from app.keys import CHAT, SETTINGS
from app.middlewares import dumps
from app.staff import setup_staff_routes
from bot.language import LANGUAGES
from civic.errors import InvalidInput

MAX_SESSION_CHARS = 128


def _language(body: dict[str, Any]) -> str | None:
    """The optional ``language`` hint: the client's UI language, for a message that has none (a payload)."""
    language = body.get("language")
    if language is None:
        return None
    if language not in LANGUAGES:
        raise InvalidInput(f"'language' must be one of {sorted(LANGUAGES)} when given")
    return str(language)


def _chat_request(body: Any, max_text_chars: int) -> tuple[str, str]:
    """Validate a chat request body; the InvalidInput message tells the client which rule it broke."""
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"session": "...", "text": "..."}')
    session = body.get("session")
    if not isinstance(session, str) or not session.strip():
        raise InvalidInput("'session' is missing: send a non-empty string that identifies the conversation")
    if len(session) > MAX_SESSION_CHARS:
        raise InvalidInput(f"'session' is longer than {MAX_SESSION_CHARS} characters")
    text = body.get("text")
    if not isinstance(text, str):
        raise InvalidInput("'text' is missing: send the citizen's message as a string")
    text = text.strip()
    if not text:
        raise InvalidInput("'text' is empty: send the citizen's message")
    if len(text) > max_text_chars:
        raise InvalidInput(
            f"'text' is {len(text)} characters long; the limit is {max_text_chars}. Please shorten it."
        )
    return session.strip(), text


async def chat(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc
    session, text = _chat_request(body, request.app[SETTINGS].max_text_chars)
    reply = await request.app[CHAT].handle(session, text, _language(body))
    return web.json_response(reply.to_json(), dumps=dumps)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/chat", chat)
    setup_staff_routes(app)
