"""The Rasa action endpoint served by the app: ``POST /webhook`` runs the bot's actions in this process.

Why in-process (rasa-sdk's ``ActionExecutor`` behind an aiohttp route) rather than a separate action
server: the actions need the archive and the warmed-up retriever (models + indexes) that the app already
holds; a second process would load them again (memory, start-up time) and add a deployment piece.

The endpoint only answers the local engine: requests must come from loopback without proxy headers, or
carry the engine token (``?token=``), because a forged call could otherwise probe the status check.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from app.conversations import Conversations
from app.keys import ARCHIVE, CHAT, RETRIEVER, SETTINGS
from bot.context import BotContext, Tuning
from bot.language import TurnIntents
from bot.registry import build_actions
from bot.texts import load_domain
from retrieval.types import Filters, Hit

log = logging.getLogger("civic.actions")

EXECUTOR: web.AppKey[ActionExecutor] = web.AppKey("action_executor")
CONVERSATIONS: web.AppKey[Conversations] = web.AppKey("conversations")
LOOPBACK = frozenset({"127.0.0.1", "::1"})
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


class NoRetriever:
    """Stands in while the index is not available: actions still answer from exact guide titles."""

    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]:
        return []


def build_executor(ctx: BotContext, intents: TurnIntents | None = None) -> ActionExecutor:
    executor = ActionExecutor()
    for action in build_actions(ctx, intents):
        executor.register_action(action)
    return executor


def _allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].engine_token
    given = request.query.get("token", "")
    if token and given and hmac.compare_digest(token, given):
        return True
    return request.remote in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS)


async def webhook(request: web.Request) -> web.Response:
    if not _allowed(request):
        return web.json_response({"error": "the action endpoint only serves the local engine"}, status=403)
    executor = request.app.get(EXECUTOR)
    if executor is None:
        return web.json_response({"error": "actions are not available (no archive)"}, status=503)
    try:
        action_call: dict[str, Any] = await request.json()
    except ValueError:
        return web.json_response({"error": "the body is not JSON"}, status=400)
    name = action_call.get("next_action")
    try:
        result = await executor.run(action_call)
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


def _retriever(app: web.Application) -> Any:
    found = app.get(RETRIEVER)
    if found is None or not callable(getattr(found, "search", None)):
        log.warning("no retriever: guide answers come from exact names only, without search")
        return NoRetriever()
    return found


async def _actions_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    conversations = Conversations(settings.paths.app_db)
    app[CONVERSATIONS] = conversations
    archive = app.get(ARCHIVE)
    intents = TurnIntents()
    if archive is not None:
        ctx = BotContext(
            archive=archive,
            retriever=_retriever(app),
            conversations=conversations,
            tuning=Tuning.from_extra(settings.extra),
        )
        app[EXECUTOR] = build_executor(ctx, intents)
    else:
        log.warning("no archive: the action endpoint will answer 503 until the app restarts with one")
    chat = app.get(CHAT)
    if chat is not None:
        domain_dir = settings.project_dir / "domain"
        chat.use_conversations(conversations, load_domain(domain_dir) if domain_dir.exists() else None,
                               intents)
    yield
    conversations.close()


def setup_action_endpoint(app: web.Application) -> None:
    """Register ``POST /webhook``; the executor is built at start-up, after the archive and retriever."""
    app.cleanup_ctx.append(_actions_ctx)
    app.router.add_post("/webhook", webhook)
