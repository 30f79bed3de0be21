"""Every typed key for the state shared across the aiohttp application, and the start-up state of a resource.

The app factory (``app/factory.py``) builds each object whole at start-up and stores it under its key; routes
look their objects up at request time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.settings import Settings

if TYPE_CHECKING:
    from app.accounts import Accounts
    from app.actions_endpoint import ActionRunner
    from app.audit import AuditLog
    from app.chat import ChatService
    from app.contacts import ContactVault
    from app.conversations import Conversations
    from app.engine_client import Engine
    from app.engine_state import EngineMonitor
    from app.hotline import HotlineService
    from app.metrics import Metrics
    from archive.store import Archive
    from connectors.base import Channels
    from connectors.channel_state import ChannelState
    from connectors.history import History
    from connectors.telegram import TelegramConnector
    from connectors.web import WebConnector
    from connectors.wechat import WeChatConnector


@dataclass
class ComponentState:
    """How a resource opened at start-up fared; ``detail`` says why when it is not ok."""

    ok: bool
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SETTINGS = web.AppKey("settings", Settings)
# start-up state of each resource ("archive", "index"), read by /healthz
STATES: web.AppKey[dict[str, ComponentState]] = web.AppKey("states")
ENGINE: web.AppKey[Engine] = web.AppKey("engine")
ENGINE_MONITOR: web.AppKey[EngineMonitor] = web.AppKey("engine_monitor")
ARCHIVE: web.AppKey[Archive] = web.AppKey("archive")
# retrieval.service.Retriever, or a stand-in that finds nothing while the index cannot be loaded
RETRIEVER: web.AppKey[Any] = web.AppKey("retriever")
# tickets, pauses, the curation log, status verification, contacts (app/conversations.py, in app.db)
CONVERSATIONS: web.AppKey[Conversations] = web.AppKey("conversations")
# contact details kept apart from the transcripts, encrypted (app/contacts.py, in app.db)
CONTACTS: web.AppKey[ContactVault] = web.AppKey("contacts")
# chat history, idempotency keys and answer feedback (connectors/history.py, in app.db)
HISTORY: web.AppKey[History] = web.AppKey("history")
CHAT: web.AppKey[ChatService] = web.AppKey("chat")
ACTIONS: web.AppKey[ActionRunner] = web.AppKey("actions")
WEB_CONNECTOR: web.AppKey[WebConnector] = web.AppKey("web_connector")
# the messaging channels, present only when configured and open (docs/channels.md)
TELEGRAM_CONNECTOR: web.AppKey[TelegramConnector] = web.AppKey("telegram_connector")
WECHAT_CONNECTOR: web.AppKey[WeChatConnector] = web.AppKey("wechat_connector")
# what the channels remember between a reply and the next update (connectors/channel_state.py, in app.db)
CHANNEL_STATE: web.AppKey[ChannelState] = web.AppKey("channel_state")
# every open connector by channel name: how a staff reply reaches a citizen (Channels.send)
CHANNELS: web.AppKey[Channels] = web.AppKey("channels")
# console users, sessions and API tokens (app/accounts.py), and the append-only audit log (app/audit.py)
ACCOUNTS: web.AppKey[Accounts] = web.AppKey("accounts")
AUDIT: web.AppKey[AuditLog] = web.AppKey("audit")
# the hotline: calls in progress, their suggestions, work orders and the webhook outbox (app/hotline.py;
# its routes app/hotline_routes.py, its start-up app/hotline_startup.py)
HOTLINE: web.AppKey[HotlineService] = web.AppKey("hotline")
# the Prometheus series and the registry the app owns (app/metrics.py, GET /metrics)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
