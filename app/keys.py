"""Typed keys for the state shared across the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from civic.config import Settings

if TYPE_CHECKING:
    from app.chat import ChatService
    from app.engine_client import Engine
    from app.health import ComponentState
    from app.history import History
    from archive.store import Archive

SETTINGS = web.AppKey("settings", Settings)
CHAT: web.AppKey[ChatService] = web.AppKey("chat")
ENGINE: web.AppKey[Engine] = web.AppKey("engine")
ARCHIVE: web.AppKey[Archive] = web.AppKey("archive")
# retrieval.service.Retriever; typed loosely so the app starts (and reports it) while retrieval is absent
RETRIEVER: web.AppKey[Any] = web.AppKey("retriever")
# start-up state of each resource ("archive", "index"), read by /healthz
STATES: web.AppKey[dict[str, ComponentState]] = web.AppKey("states")
# the chat history, idempotency keys and answer feedback (app/history.py, opened by the web chat)
HISTORY: web.AppKey[History] = web.AppKey("history")
