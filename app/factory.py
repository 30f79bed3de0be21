"""`create_app(settings)`: the aiohttp application, its routes, and every object it serves with, built whole.

Routes are registered here at once; the objects behind them are built at start-up in one place
(:func:`_components`), each with all it needs, in dependency order, and closed in reverse order when the app
stops: the thread pool, the archive, the retriever (models and indexes load here, never at import), the
conversation store, the contact vault, the chat history, the console's accounts and the audit log
(``app.db``), the engine client and its monitor,
the actions, the search answers, the chat service, the web connector, the messaging channels that are
configured (Telegram, WeChat: ``docs/channels.md``) and the live index.

A resource that fails to open does not stop the app: ``/healthz`` reports it (503) and the log says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from app.accounts import Accounts
from app.actions_endpoint import ActionRunner
from app.admin.web import admin_middleware
from app.audit import AuditLog
from app.chat import ChatService
from app.compaction import Compactor
from app.contacts import ContactVault
from app.conversations import Conversations
from app.engine_client import Engine, RasaClient, replica_urls
from app.engine_state import EngineMonitor
from app.headers import forwarded_middleware
from app.hotline_startup import open_hotline
from app.keys import (
    ACCOUNTS,
    ACTIONS,
    ARCHIVE,
    AUDIT,
    CHANNEL_STATE,
    CHANNELS,
    CHAT,
    CONTACTS,
    CONVERSATIONS,
    ENGINE,
    ENGINE_MONITOR,
    HISTORY,
    METRICS,
    RETRIEVER,
    SETTINGS,
    STATES,
    TELEGRAM_CONNECTOR,
    WEB_CONNECTOR,
    WECHAT_CONNECTOR,
    ComponentState,
)
from app.metrics import Metrics
from app.middlewares import error_middleware
from app.peers import open_peers
from app.ratelimits import rate_limit_middleware, setup_rate_limits
from app.routes import setup_routes
from app.standby import Standby, person_phrases
from app.workers import worker_pool
from archive.store import Archive
from bot.context import BotContext, Tuning
from bot.texts import load_domain
from connectors.base import Channels, ChatHandler
from connectors.channel_state import ChannelState
from connectors.history import History, Turn
from connectors.ratelimit import RateLimiter
from connectors.render import ChannelTexts
from connectors.telegram import TelegramConnector
from connectors.web import WebConnector
from connectors.wechat import WeChatConnector
from core.dates import local_today
from core.settings import Settings
from retrieval.config import RetrievalConfig
from retrieval.service import Retriever
from retrieval.types import Filters, Hit

log = logging.getLogger("civic.app")

ENGINE_TIMEOUT = 30.0  # seconds for one engine call (a turn with actions and retrieval included)
RASA_DEFAULT_PORT = 5005

Ctx = Callable[[web.Application], AsyncIterator[None]]


class NoRetriever:
    """Stands in while the index cannot be loaded: actions still answer from exact guide names."""

    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]:
        return []


def engine_url(settings: Settings) -> str:
    """The engine's base URL: configured, or the local engine on its (configured) port."""
    if settings.engine_url:
        return settings.engine_url
    return f"http://127.0.0.1:{settings.engine_port or RASA_DEFAULT_PORT}"


async def _open_archive(app: web.Application, given: Archive | None, stack: AsyncExitStack) -> Archive | None:
    if given is not None:
        app[STATES]["archive"] = ComponentState(True)
        return given
    try:
        archive = await asyncio.to_thread(Archive, app[SETTINGS].paths.archive_db)
    except Exception as exc:
        log.exception("could not open the archive")
        app[STATES]["archive"] = ComponentState(False, f"could not open the archive: {exc}")
        return None
    stack.callback(archive.close)
    app[STATES]["archive"] = ComponentState(True)
    return archive


async def _open_retriever(app: web.Application, given: Any, archive: Archive | None,
                          stack: AsyncExitStack) -> Any:
    if given is None and archive is None:
        app[STATES]["index"] = ComponentState(False, "no archive to search")
        return NoRetriever()
    try:
        retriever = given if given is not None else Retriever(RetrievalConfig.of(app[SETTINGS]), archive)
        await asyncio.to_thread(retriever.warm_up)
    except Exception as exc:
        log.exception("could not load the retrieval index")
        app[STATES]["index"] = ComponentState(False, f"could not load the retrieval index: {exc}")
        return NoRetriever()
    close = getattr(retriever, "close", None)
    if callable(close):
        stack.callback(close)
    info = getattr(retriever, "info", None)
    app[STATES]["index"] = ComponentState(True, info=info() if callable(info) else {})
    return retriever


async def _watch_index(app: web.Application, retriever: Any, seconds: float) -> None:
    """The live index: catch up with the archive's changes (published, changed, expired, abolished
    documents) in the background, every ``seconds``; every app process on the host does its own."""
    while True:
        await asyncio.sleep(seconds)
        try:
            changed = await asyncio.to_thread(retriever.catch_up)
        except Exception:
            log.exception("could not refresh the retrieval index; retrying")
            continue
        if changed:
            log.info("retrieval index caught up with %d changed document(s)", changed)
            info = getattr(retriever, "info", None)
            app[STATES]["index"] = ComponentState(True, info=info() if callable(info) else {})


FeedbackLog = Callable[[Turn, str], Any]


async def _open_channels(app: web.Application, chat: ChatHandler, history: History, domain: dict[str, Any],
                         on_feedback: FeedbackLog, options: dict[str, dict[str, Any]],
                         stack: AsyncExitStack) -> None:
    """The messaging channels whose settings are set; one that fails to open is reported, not fatal."""
    settings = app[SETTINGS]
    if not (settings.telegram_token or settings.wechat_token):
        return
    state = await asyncio.to_thread(ChannelState, settings.paths.app_db)
    stack.callback(state.close)
    app[CHANNEL_STATE] = state
    common: dict[str, Any] = {"state": state, "texts": ChannelTexts(domain), "on_feedback": on_feedback}
    if settings.telegram_token:
        try:
            if settings.telegram_mode not in ("webhook", "polling"):
                raise ValueError(f"telegram_mode must be webhook or polling, not {settings.telegram_mode!r}")
            telegram = TelegramConnector(
                chat, history, settings.max_text_chars, token=settings.telegram_token,
                secret=settings.telegram_webhook_secret, api_url=settings.telegram_api_url,
                polling=settings.telegram_mode == "polling", **common, **options.get("telegram", {}))
            await telegram.start()
        except Exception as exc:
            log.exception("could not open the Telegram channel")
            app[STATES]["telegram"] = ComponentState(False, f"could not open the Telegram channel: {exc}")
        else:
            stack.push_async_callback(telegram.stop)
            app[TELEGRAM_CONNECTOR] = telegram
            app[CHANNELS].add(telegram)
            app[STATES]["telegram"] = ComponentState(True, info={"mode": settings.telegram_mode})
    if settings.wechat_token:
        if not (settings.wechat_app_id and settings.wechat_app_secret):
            log.warning("wechat: no app id/secret: late answers and staff replies cannot be sent")
        wechat = WeChatConnector(
            chat, history, settings.max_text_chars, token=settings.wechat_token,
            app_id=settings.wechat_app_id, app_secret=settings.wechat_app_secret,
            aes_key=settings.wechat_aes_key, api_url=settings.wechat_api_url, **common,
            **options.get("wechat", {}))
        stack.push_async_callback(wechat.close)
        app[WECHAT_CONNECTOR] = wechat
        app[CHANNELS].add(wechat)
        app[STATES]["wechat"] = ComponentState(True, info={"safe_mode": bool(settings.wechat_aes_key)})


def _components(engine: Engine | None, archive: Archive | None, retriever: Any,
                chat: ChatHandler | None, limiter: RateLimiter | None,
                channel_options: dict[str, dict[str, Any]]) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        paths = settings.paths.ensure()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(worker_pool(settings.worker_threads))
            opened = await _open_archive(app, archive, stack)
            if opened is not None:
                app[ARCHIVE] = opened
            found = await _open_retriever(app, retriever, opened, stack)
            app[RETRIEVER] = found
            conversations = await asyncio.to_thread(Conversations, paths.app_db)
            stack.callback(conversations.close)
            app[CONVERSATIONS] = conversations
            contacts = ContactVault(paths.app_db, settings.contact_key)
            stack.callback(contacts.close)
            app[CONTACTS] = contacts
            history = await asyncio.to_thread(History, paths.app_db)
            stack.callback(history.close)
            app[HISTORY] = history
            accounts = await asyncio.to_thread(Accounts, paths.app_db, settings.admin_idle_minutes * 60)
            stack.callback(accounts.close)
            app[ACCOUNTS] = accounts
            audit_log = await asyncio.to_thread(AuditLog, paths.app_db)
            stack.callback(audit_log.close)
            app[AUDIT] = audit_log
            domain_dir = settings.project_dir / "domain"
            domain = load_domain(domain_dir) if domain_dir.exists() else {}
            client: Engine = engine or RasaClient(engine_url(settings), settings.engine_token, ENGINE_TIMEOUT,
                                                  replicas=replica_urls(settings.engine_urls))
            stack.push_async_callback(client.close)
            app[ENGINE] = client
            monitor = EngineMonitor(client, paths.training_progress)
            await monitor.start()
            stack.push_async_callback(monitor.stop)
            app[ENGINE_MONITOR] = monitor
            standby = None
            if opened is not None:
                bot = BotContext(archive=opened, retriever=found, conversations=conversations,
                                 tuning=Tuning.from_extra(settings.extra),
                                 today=lambda: local_today(settings.time_zone))
                app[ACTIONS] = ActionRunner(bot, domain)
                standby = Standby(bot, domain, person_phrases(settings.project_dir))
            else:
                log.warning("no archive: the action endpoint answers 503 until the app restarts with one")
            compactor = Compactor.for_domain(settings.max_session_events, conversations, domain)
            app[METRICS] = Metrics()  # the app's own registry (GET /metrics, app/metrics.py)
            service = ChatService(client, monitor, conversations, standby, domain, compactor, contacts,
                                  archive=opened, metrics=app[METRICS])
            stack.push_async_callback(service.drain)
            app[CHAT] = service

            async def log_feedback(turn: Turn, value: str) -> None:
                await asyncio.to_thread(log_feedback_for_curation, conversations, turn, value)

            connector = WebConnector(chat or service, history, settings.max_text_chars, limiter=limiter,
                                     on_feedback=log_feedback)
            app[WEB_CONNECTOR] = connector
            app[CHANNELS] = Channels()
            app[CHANNELS].add(connector)
            await _open_channels(app, chat or service, history, domain, log_feedback, channel_options, stack)
            await open_hotline(app, stack)
            await open_peers(app, stack)  # other instances' feeds and their sync (app/peers.py)
            if opened is not None and callable(getattr(found, "catch_up", None)):
                watcher = asyncio.get_running_loop().create_task(
                    _watch_index(app, found, settings.index_watch_seconds))
                stack.push_async_callback(_cancel, watcher)
            yield

    return ctx


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def log_feedback_for_curation(conversations: Conversations, turn: Turn, value: str) -> None:
    """Thumbs go to the dialogue's curation log too (feedback_good / feedback_bad), with the answer."""
    messages = (turn.reply or {}).get("messages") or []
    conversations.log(
        "feedback_good" if value == "up" else "feedback_bad",
        turn.session,
        turn.text,
        {
            "key": turn.key,
            "answer": " ".join(str(m.get("text") or "") for m in messages)[:500],
            "citations": [c.get("id") for m in messages for c in (m.get("citations") or [])],
            "channel": turn.session.partition(":")[0],
        },
    )


async def _close_sockets(app: web.Application) -> None:
    connector = app.get(WEB_CONNECTOR)
    if connector is not None:
        await connector.close()


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    archive: Archive | None = None,
    retriever: Any | None = None,
    chat: ChatHandler | None = None,
    limiter: RateLimiter | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
) -> web.Application:
    """Build the app.  ``engine``/``archive``/``retriever`` replace the real ones (tests, embedding);
    ``chat`` replaces the dialogue behind the connectors and ``limiter`` the web chat's rate limits;
    ``channel_options`` adds keyword arguments per channel ("telegram", "wechat": a deadline, a limit;
    tests)."""
    app = web.Application(middlewares=[forwarded_middleware, rate_limit_middleware, error_middleware,
                                       admin_middleware],
                          client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[STATES] = {}
    setup_rate_limits(app)
    app.cleanup_ctx.append(_components(engine, archive, retriever, chat, limiter, channel_options or {}))
    app.on_shutdown.append(_close_sockets)
    setup_routes(app)
    return app
