"""Every HTTP route of the app, registered in one place.

  GET  /healthz                 app, engine, archive and index state (app/health.py)
  POST /api/chat                the REST chat API (below)
  /api/staff/*                  the staff API (app/staff.py)
  /admin, /admin/*              the admin console (app/admin/routes.py lists its sections)
  GET  /metrics                 Prometheus metrics, loopback or a metrics token (app/metrics.py)
  POST /webhook                 the Rasa action endpoint, local engine only (app/actions_endpoint.py)
  /, /webchat/static/*          the web chat page (app/webchat.py)
  /ws, /api/webchat/*           the web connector's transport (connectors/web.py, bound to the connector the
                                factory built)
  POST /telegram/webhook        Telegram (connectors/telegram.py), only when telegram_token is set
  GET|POST /wechat              WeChat (connectors/wechat.py), only when wechat_token is set; a channel that
                                is off has no route (404)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.actions_endpoint import webhook
from app.admin.routes import setup_admin_routes
from app.catalog import setup_catalog_routes
from app.headers import setup_security_headers
from app.health import healthz
from app.hotline_routes import setup_hotline_routes
from app.keys import CHAT, HISTORY, SETTINGS, TELEGRAM_CONNECTOR, WEB_CONNECTOR, WECHAT_CONNECTOR
from app.metrics import setup_metrics_routes
from app.middlewares import dumps
from app.openapi import setup_openapi
from app.public import setup_public_routes
from app.ratelimits import session_refusal
from app.staff import setup_staff_routes
from app.staff_console import setup_staff_console
from app.webchat import setup_webchat_page
from connectors.telegram import TelegramConnector
from connectors.web import WebConnector
from connectors.wechat import WeChatConnector
from core.errors import InvalidInput
from core.inputs import check_language, check_session, check_text

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def chat(request: web.Request) -> web.Response:
    """``{"session", "text", "language"?}`` -> the reply (app.chat.Reply)."""
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"session": "...", "text": "..."}')
    session = check_session(body.get("session"))
    refused = session_refusal(request, session)
    if refused is not None:
        return refused
    text = check_text(body.get("text"), request.app[SETTINGS].max_text_chars)
    language = check_language(body.get("language"))
    # the turn goes into the chat history as channel "api" (masked), as a connector's does: analytics count it
    history, key = request.app.get(HISTORY), f"api-{uuid.uuid4().hex}"
    if history is not None:
        await asyncio.to_thread(history.begin, session, key, text, "", "api")
    reply = (await request.app[CHAT].handle(session, text, language)).to_json()
    if history is not None:
        await asyncio.to_thread(history.finish, session, key, reply)
    return web.json_response(reply, dumps=dumps)


def _bound(key: web.AppKey[Any], method: str) -> Handler:
    """A handler that calls ``method`` of the object the factory stored under ``key`` at start-up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        target = request.app.get(key)
        if target is None:
            raise web.HTTPServiceUnavailable(reason="the channel is not open yet")
        result: web.StreamResponse = await getattr(target, method)(request)
        return result

    return handler


def setup_routes(app: web.Application) -> None:
    setup_security_headers(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/webhook", webhook)
    setup_staff_routes(app)
    setup_admin_routes(app)
    setup_public_routes(app)
    setup_catalog_routes(app)
    setup_openapi(app)  # GET /api/openapi.json: every route above, described (app/openapi.py)
    setup_hotline_routes(app)
    setup_metrics_routes(app)  # GET /metrics: Prometheus, loopback or a metrics token (app/metrics.py)
    setup_staff_console(app)
    setup_webchat_page(app)
    for verb, path, method in WebConnector.ROUTES:
        app.router.add_route(verb, path, _bound(WEB_CONNECTOR, method))
    settings = app[SETTINGS]
    channels: list[tuple[bool, web.AppKey[Any], Any]] = [
        (bool(settings.telegram_token), TELEGRAM_CONNECTOR, TelegramConnector),
        (bool(settings.wechat_token), WECHAT_CONNECTOR, WeChatConnector),
    ]
    for enabled, key, connector in channels:
        for verb, path, method in connector.ROUTES if enabled else ():
            app.router.add_route(verb, path, _bound(key, method))
