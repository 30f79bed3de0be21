"""ChatService: the one entry every connector (web chat, Telegram, WeChat, hotline) calls for a turn.

One turn, in order:

1. Personal data is masked (``core.pii``): the engine, the tickets, the history and the logs only ever see
   ``〔手机号〕``; what was found is kept apart, encrypted, for staff (``app/contacts.py``).
2. A session handed over to staff is paused: the message goes to the hand-over ticket, not to the bot.
3. When the status check waits for the phone digits, the app checks them itself (``bot.status.check_digits``)
   and sends the engine a stand-in, so the digits never reach it.
4. While the engine is not ready (training, loading, down) the message gets a search answer
   (``app/standby.py``); otherwise it goes to the engine's ``civic`` channel with the client's language, the
   channel and its capabilities in the message metadata, and the reply says what the app needs about the
   turn (intent, session size, the form's state).  A long engine session is compacted between turns
   (``app/compaction.py``).

Nothing about a turn is kept in this process between calls, so any app replica can take any turn.
Blocking work (SQLite, search) runs on the app's thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from app.compaction import Compactor
from app.contacts import ContactVault
from app.conversations import Conversations
from app.engine_client import NO_INTENT, Engine
from app.engine_state import EngineMonitor
from app.messages import new_message, response, shape
from app.metrics import Metrics
from app.standby import Standby
from bot.status import DIGITS_SLOT, ENGINE, STAND_IN, STAND_IN_INTENT, Verifier, check_digits
from core import pii
from core.errors import EngineUnavailable
from core.inputs import LANGUAGES, detect_language

log = logging.getLogger("civic.chat")

DIALOGUE, SEARCH, PAUSED = "dialogue", "search", "paused"


@dataclass
class Reply:
    session: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    intent: dict[str, Any] = field(default_factory=lambda: dict(NO_INTENT))
    handoff: bool = False
    mode: str = DIALOGUE  # dialogue | search (the engine was not ready) | paused (a person has it)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ChatService:
    def __init__(
        self, engine: Engine, monitor: EngineMonitor, conversations: Conversations, standby: Standby | None,
        domain: dict[str, Any], compactor: Compactor, contacts: ContactVault | None = None, *,
        archive: Verifier | None = None, metrics: Metrics | None = None,
    ) -> None:
        """``standby`` and ``archive`` are None only when the archive could not be opened: then nothing can
        be searched or verified, and a turn needs the engine."""
        self.engine = engine
        self.monitor = monitor
        self.conversations = conversations
        self.standby = standby
        self.domain = domain
        self.compactor = compactor
        self.contacts = contacts
        self.archive = archive
        self.metrics = metrics  # the turn's latency, intent, fallback, hand-over (app/metrics.py)

    async def handle(
        self, session: str, text: str, language: str | None = None, channel: str = "api",
        capabilities: dict[str, Any] | None = None,
    ) -> Reply:
        """One turn.  ``language`` is the client's hint ("zh"/"en", e.g. the web chat's UI language), used
        when ``text`` has no language of its own (a button payload) and the conversation has none yet."""
        started = time.perf_counter()
        try:
            reply = await self._turn(session, text, language, channel, capabilities)
        except Exception:
            if self.metrics is not None:
                self.metrics.failed(channel)
            raise
        if self.metrics is not None:
            self.metrics.turn(channel, reply, time.perf_counter() - started)
        return reply

    async def _turn(
        self, session: str, text: str, language: str | None, channel: str,
        capabilities: dict[str, Any] | None,
    ) -> Reply:
        hint = language if language in LANGUAGES else None
        lang = detect_language(text) or hint or "zh"
        masked, found = pii.mask_with(text)
        if found and self.contacts is not None:
            await asyncio.to_thread(self.contacts.keep, session, found)
        ticket = await asyncio.to_thread(self.conversations.paused_ticket, session)
        if ticket is not None:
            await asyncio.to_thread(self.conversations.append_transcript, ticket, "citizen", masked)
            return Reply(session, [response(self.domain, "utter_paused", lang, ticket=ticket)],
                         handoff=True, mode=PAUSED)
        pending = await asyncio.to_thread(self.conversations.pending_digits, session)
        stand_in = None
        if pending is not None and pending.app_no and self.archive is not None:
            outcome = await asyncio.to_thread(check_digits, self.archive, self.conversations, session,
                                              pending.app_no, text)
            if outcome is not None:
                if self.standby is not None and (pending.owner != ENGINE or not self.monitor.ready):
                    reply = await self.standby.digits(session, pending.app_no, outcome, lang)
                    return Reply(session, reply.messages, mode=SEARCH)
                stand_in = STAND_IN
        if not self.monitor.ready:
            return await self._standby(session, masked, lang)
        metadata = {"language": hint, "channel": channel, "capabilities": capabilities or {}}
        try:
            await self.compactor.before_turn(self.engine, session)
            turn = await self.engine.send(session, stand_in or masked, metadata,
                                          STAND_IN_INTENT if stand_in else None)
        except EngineUnavailable as exc:
            self.monitor.mark_down(str(exc))
            return await self._standby(session, masked, lang)
        if pending is not None and turn.requested_slot != DIGITS_SLOT:
            await asyncio.to_thread(self.conversations.clear_pending, session)
        self.compactor.after_turn(self.engine, session, turn.events)
        messages, handed_over = shape(turn.messages)
        paused = handed_over or await asyncio.to_thread(self.conversations.paused_ticket, session) is not None
        return Reply(session, messages, turn.intent, handoff=paused, mode=DIALOGUE)

    async def _standby(self, session: str, masked: str, lang: str) -> Reply:
        if self.standby is None:
            raise EngineUnavailable("the dialogue engine is not ready and the archive cannot be searched")
        reply = await self.standby.answer(session, masked, lang)
        messages = reply.messages or [new_message()]
        return Reply(session, messages, handoff=reply.handoff, mode=SEARCH)

    async def drain(self) -> None:
        """Wait for the compactions in flight (at shut-down, and in tests)."""
        await self.compactor.drain()
