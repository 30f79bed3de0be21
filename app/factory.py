"""`create_app(settings)`: the aiohttp application with its resources, routes and middlewares.

Resources (the engine client, the archive, the retriever) are opened in ``cleanup_ctx`` when the app
starts and closed when it stops; models and indexes load there, never at import.  A resource that fails
to open does not stop the app: ``/healthz`` reports it (503) and the log says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from app.actions_endpoint import setup_action_endpoint
from app.chat import ChatService
from app.engine_client import Engine, RasaClient
from app.health import ComponentState
from app.keys import ARCHIVE, CHAT, ENGINE, RETRIEVER, SETTINGS, STATES
from app.middlewares import error_middleware
from app.routes import setup_routes
from app.webchat import setup_webchat
from archive.store import Archive
from civic.config import Settings
from retrieval.service import Retriever

log = logging.getLogger("civic.app")

ENGINE_TIMEOUT = 30.0  # seconds for one engine call (a turn with actions and retrieval included)
RASA_DEFAULT_PORT = 5005

Ctx = Callable[[web.Application], AsyncIterator[None]]


def engine_url(settings: Settings) -> str:
    """The engine's base URL: configured, or the local engine on its (configured) port."""
    if settings.engine_url:
        return settings.engine_url
    return f"http://127.0.0.1:{settings.engine_port or RASA_DEFAULT_PORT}"


def _engine_ctx(engine: Engine | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        client: Engine = engine or RasaClient(engine_url(settings), settings.engine_token, ENGINE_TIMEOUT)
        app[ENGINE] = client
        chat = ChatService(client, max_session_events=settings.max_session_events)
        app[CHAT] = chat
        yield
        await chat.drain()
        await client.close()

    return ctx


def _archive_ctx(archive: Archive | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        owned = archive is None
        opened: Archive | None = archive
        try:
            if opened is None:
                opened = await asyncio.to_thread(Archive, app[SETTINGS].paths.archive_db)
            app[ARCHIVE] = opened
            app[STATES]["archive"] = ComponentState(True)
        except Exception as exc:
            log.exception("could not open the archive")
            app[STATES]["archive"] = ComponentState(False, f"could not open the archive: {exc}")
        yield
        if owned and opened is not None:
            opened.close()

    return ctx


def _retriever_ctx(retriever: Any | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        states = app[STATES]
        instance = retriever
        try:
            if instance is None:
                archive = app.get(ARCHIVE)
                if archive is None:
                    states["index"] = ComponentState(False, "no archive to search")
                else:
                    instance = Retriever(app[SETTINGS], archive)
            if instance is not None:
                await asyncio.to_thread(instance.warm_up)
                app[RETRIEVER] = instance
                info = getattr(instance, "info", None)
                states["index"] = ComponentState(True, info=info() if callable(info) else {})
        except Exception as exc:
            log.exception("could not load the retrieval index")
            states["index"] = ComponentState(False, f"could not load the retrieval index: {exc}")
        yield
        close = getattr(instance, "close", None)
        if callable(close):
            close()

    return ctx


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    archive: Archive | None = None,
    retriever: Any | None = None,
) -> web.Application:
    """Build the app.  ``engine``/``archive``/``retriever`` replace the real ones (tests, embedding)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[STATES] = {}
    app.cleanup_ctx.append(_engine_ctx(engine))
    app.cleanup_ctx.append(_archive_ctx(archive))
    app.cleanup_ctx.append(_retriever_ctx(retriever))
    setup_routes(app)
    setup_action_endpoint(app)
    setup_webchat(app)
    return app
