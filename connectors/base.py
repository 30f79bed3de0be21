"""The one connector interface every channel (web chat, Telegram, WeChat, hotline) plugs into.

A channel turns its native event into an :class:`Inbound` (who, what, idempotency key), hands it to
:meth:`Connector.receive`, and gets an :class:`Outbound` back: the dialogue's messages already shaped
for what the channel can show (:class:`Capabilities`).  The base class owns what every channel needs the
same way: the session identity (``"<channel>:<user>"``), input rules, exactly-once handling of re-delivered
messages, and the history record.  A subclass adds only its transport — the handler methods named in its
``ROUTES``, which the app registers and binds to the connector it built — and, if it must, its own rendering
of buttons and cards, and — for a channel that can reach a citizen outside a turn (Telegram, WeChat) —
:meth:`Connector.send`, through which a staff reply reaches the citizen on the channel they used
(:class:`Channels` finds the connector of a session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from connectors.history import History
from core.errors import NotFound
from core.inputs import channel_session, check_key, check_label, check_language, check_text

__all__ = [
    "Capabilities", "Channels", "ChatHandler", "Connector", "Inbound", "Outbound", "as_plain_text",
    "session_id",
]


class ChatHandler(Protocol):
    """What a connector needs from the dialogue: ``app.chat.ChatService`` implements it."""

    async def handle(
        self, session: str, text: str, language: str | None = None, channel: str = "api",
        capabilities: dict[str, Any] | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show; :meth:`Connector.adapt` degrades a reply to fit."""

    buttons: bool = False  # tappable quick replies
    cards: bool = False  # a structured guide card
    citations: bool = False  # citations as structured items (else folded into the text)
    max_buttons: int = 10
    max_text_chars: int | None = None  # longer texts are cut with an ellipsis


@dataclass(frozen=True)
class Inbound:
    channel: str
    user: str  # the channel's own id of the citizen (web: the id the browser keeps)
    text: str
    key: str = ""  # idempotency key; "" means the channel cannot re-deliver, so none is needed
    label: str = ""  # what to show for the message when it differs from ``text`` (a tapped button's title)
    language: str = ""  # the client's UI language ("zh"/"en", "" unknown): the reply's language for a payload

    @property
    def session(self) -> str:
        return session_id(self.channel, self.user)


@dataclass
class Outbound:
    session: str
    key: str
    messages: list[dict[str, Any]]
    intent: dict[str, Any] | None = None
    handoff: bool = False
    duplicate: bool = False  # True when this is the stored answer to a re-delivered message
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "messages": self.messages,
            "intent": self.intent,
            "handoff": self.handoff,
            **self.extra,
        }


session_id = channel_session  # the dialogue session of a citizen on a channel (core/inputs.py)


def as_plain_text(message: dict[str, Any], labels: Callable[[str], str] | None = None) -> str:
    """One message as plain text, for channels that show neither cards nor buttons (SMS, voice)."""
    label = labels or (lambda k: k)
    lines = [str(message.get("text") or "")]
    card = message.get("card") or {}
    for name, value in card.items():
        if name in {"type", "id", "doc_id", "title"} or not value:
            continue
        if isinstance(value, list):
            lines.append(f"{label(name)}:")
            lines.extend(f"- {v}" for v in value)
        else:
            lines.append(f"{label(name)}: {value}")
    for c in message.get("citations") or []:
        parts = [c.get("title", ""), c.get("doc_no", ""), c.get("issuer", ""), c.get("issued_on", ""),
                 f"来源：{c['origin']}" if c.get("origin") else ""]
        mark = f" [{label(c['status'])}]" if c.get("status") in {"expired", "abolished"} else ""
        lines.append("〔" + " ".join(p for p in parts if p) + "〕" + mark)
    for i, b in enumerate(message.get("buttons") or [], 1):
        lines.append(f"{i}. {b.get('title', '')}")
    return "\n".join(line for line in lines if line)


log = logging.getLogger(__name__)


class KeyedLocks:
    """One asyncio lock per key, created on first use and dropped once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Connector(ABC):
    """Message in → replies out, for one channel.

    ``history`` is optional: a channel that never re-delivers and keeps no history may pass None.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # the channel's transport: (HTTP method, path, name of the handler method), registered by the app
    ROUTES: ClassVar[tuple[tuple[str, str, str], ...]] = ()

    def __init__(self, chat: ChatHandler, history: History | None = None, max_text_chars: int = 500) -> None:
        """Built whole: the dialogue, the history store (None for a channel that keeps none) and the limit."""
        self.chat = chat
        self.history = history
        self.max_text_chars = max_text_chars
        self._inflight = KeyedLocks()  # (session, key) of turns being answered
        self.on_feedback: Any = None  # FeedbackHook: told of each stored thumbs (the curation log)

    def validate(self, inbound: Inbound) -> None:
        """The input rules of core/inputs.py; raises a named InvalidInput."""
        check_text(inbound.text, self.max_text_chars, "message")
        check_key(inbound.key)
        check_label(inbound.label)
        check_language(inbound.language or None)

    async def receive(self, inbound: Inbound) -> Outbound:
        """Run one turn; a key seen before returns the stored answer instead of running the dialogue again."""
        self.validate(inbound)
        session = inbound.session
        if not inbound.key or self.history is None:
            reply = await self._turn(session, inbound.text, inbound.language)
            return self._outbound(session, inbound.key, reply)
        async with self._inflight.hold((session, inbound.key)):
            # a re-delivery racing the first delivery waits for its answer
            history = self.history
            turn = await asyncio.to_thread(history.find, session, inbound.key)
            if turn is not None and turn.reply is not None:
                return self._outbound(session, inbound.key, turn.reply, duplicate=True)
            await asyncio.to_thread(history.begin, session, inbound.key, inbound.text, inbound.label,
                                    self.name)
            reply = await self._turn(session, inbound.text, inbound.language)
            await asyncio.to_thread(history.finish, session, inbound.key, reply)
            return self._outbound(session, inbound.key, reply)

    async def record_feedback(self, session: str, key: str, value: str) -> bool:
        """Thumbs on an answered turn: stored, then told to ``on_feedback``; False when no answered turn
        has that key in this session."""
        history = self.history
        if history is None or not await asyncio.to_thread(history.set_feedback, session, key, value):
            return False
        turn = await asyncio.to_thread(history.find, session, key)
        if turn is not None and self.on_feedback is not None:
            try:
                await self.on_feedback(turn, value)
            except Exception:
                log.exception("the feedback hook failed; the feedback itself is stored")
        return True

    async def _turn(self, session: str, text: str, language: str = "") -> dict[str, Any]:
        reply = await self.chat.handle(session, text, language or None, self.name,
                                       asdict(self.capabilities))
        data: dict[str, Any] = reply.to_json() if hasattr(reply, "to_json") else dict(reply)
        return data

    def _outbound(self, session: str, key: str, reply: dict[str, Any], duplicate: bool = False) -> Outbound:
        return Outbound(
            session=session,
            key=key,
            messages=[self.adapt(m) for m in reply.get("messages") or []],
            intent=reply.get("intent"),
            handoff=bool(reply.get("handoff")),
            duplicate=duplicate,
        )

    async def send(self, user: str, text: str) -> None:
        """Push ``text`` to ``user`` outside a turn (a staff reply to a handed-over conversation).  A channel
        that can only answer the message in front of it (the web chat's HTTP fallback) keeps this."""
        raise NotImplementedError(f"the {self.name} channel cannot push messages to a user")

    def adapt(self, message: dict[str, Any]) -> dict[str, Any]:
        """Shape one dialogue message for this channel's capabilities (folding what it cannot show)."""
        caps = self.capabilities
        out = dict(message)
        if not (caps.cards and caps.citations and caps.buttons):
            folded = {
                "text": out.get("text", ""),
                "card": None if caps.cards else out.get("card"),
                "citations": None if caps.citations else out.get("citations"),
                "buttons": None if caps.buttons else out.get("buttons"),
            }
            out["text"] = as_plain_text(folded)
            shown = {"card": caps.cards, "citations": caps.citations, "buttons": caps.buttons}
            for name in [n for n, ok in shown.items() if not ok]:
                out.pop(name, None)
        if caps.buttons and out.get("buttons"):
            out["buttons"] = list(out["buttons"])[: caps.max_buttons]
        if caps.max_text_chars and len(out.get("text") or "") > caps.max_text_chars:
            out["text"] = out["text"][: caps.max_text_chars - 1] + "…"
        return out


class Channels:
    """The connectors the app opened, by channel name: how something outside a turn (the staff console's
    reply to a hand-over) reaches a citizen on the channel their session came from."""

    def __init__(self) -> None:
        self._by_name: dict[str, Connector] = {}

    def add(self, connector: Connector) -> None:
        self._by_name[connector.name] = connector

    def get(self, name: str) -> Connector | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    async def send(self, session: str, text: str) -> None:
        """Push ``text`` to the citizen of ``session`` (``"<channel>:<user>"``); NotFound when that channel
        is not open in this app."""
        channel, _, user = session.partition(":")
        connector = self._by_name.get(channel)
        if connector is None or not user:
            raise NotFound(f"no open channel for session {session!r}")
        await connector.send(user, text)
