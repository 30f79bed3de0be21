"""The Rasa action endpoint served by the app: ``POST /webhook`` runs the bot's actions in this process.

Why in-process (rasa-sdk's ``ActionExecutor`` behind an aiohttp route) rather than a separate action
server: the actions need the archive and the warmed-up retriever (models + indexes) that the app already
holds; a second process would load them again (memory, start-up time) and add a deployment piece.

The actions' bodies call the archive, the retriever and ``app.db`` synchronously, so each action call runs on
the app's thread pool (``app/workers.py``), never on the event loop that serves the web-chat sockets.

The endpoint only answers the local engine: requests must come from loopback without proxy headers, or
carry the engine token (``?token=``), because a forged call could otherwise probe the status check.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from app.keys import ACTIONS, SETTINGS
from app.workers import run_coroutine
from bot.context import BotContext
from bot.registry import build_actions

log = logging.getLogger("civic.actions")

LOOPBACK = frozenset({"127.0.0.1", "::1"})
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


class ActionRunner:
    """Every action of the bot, run off the event loop, with the domain the app read at start-up when the
    engine does not send its own (``enable_selective_domain`` in endpoints.yml: serialising the whole domain
    for every action call cost the engine several milliseconds)."""

    def __init__(self, ctx: BotContext, domain: dict[str, Any]) -> None:
        self.ctx = ctx
        self.domain = domain
        self.executor = ActionExecutor()
        for action in build_actions(ctx):
            self.executor.register_action(action)

    async def run(self, action_call: dict[str, Any]) -> Any:
        if not action_call.get("domain"):
            action_call = {**action_call, "domain": self.domain}
        return await run_coroutine(self.executor.run, action_call)


def _allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].engine_token
    given = request.query.get("token", "")
    if token and given and hmac.compare_digest(token, given):
        return True
    return request.remote in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS)


async def webhook(request: web.Request) -> web.Response:
    if not _allowed(request):
        return web.json_response({"error": "the action endpoint only serves the local engine"}, status=403)
    runner = request.app.get(ACTIONS)
    if runner is None:
        return web.json_response({"error": "actions are not available (no archive)"}, status=503)
    try:
        action_call: dict[str, Any] = await request.json()
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    if not isinstance(action_call, dict):
        return web.json_response({"error": "the body is not a JSON object"}, status=400)
    name = action_call.get("next_action")
    try:
        result = await runner.run(action_call)
    except ActionExecutionRejection as exc:
        return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=400)
    except ActionNotFoundException as exc:
        return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=404)
    except ActionMissingDomainException as exc:
        return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=449)
    except Exception:
        # a broken action must not leave the citizen without an answer: apologise, keep the tracker intact
        log.exception("action %s failed", name)
        return web.json_response({"events": [], "responses": [{"response": "utter_default"}]})
    return web.json_response(result.model_dump() if result else None)
