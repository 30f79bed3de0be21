"""What the messaging channels (Telegram, WeChat) add to the connector interface, the same way for both:

- a per-chat rate limit (``connectors/ratelimit.py``'s session bucket) answered once with a polite message,
  then quietly until the chat may send again; a re-delivered message costs nothing (its answer is stored);
- the input rules answered politely (too long → 「请控制在 500 字以内」; empty → nothing);
- a failure answered with the unavailable text instead of silence (the ChatService already answers from
  search while the engine is down; this covers what even that cannot);
- thumbs up/down stored on the turn and told to the curation hook, as the web chat does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from connectors.base import ChatHandler, Connector, Inbound, Outbound
from connectors.channel_state import ChannelState
from connectors.history import History, Turn
from connectors.ratelimit import SESSION_LIMIT, Buckets, Limit
from connectors.render import ChannelTexts
from core.errors import EngineUnavailable, InvalidInput
from core.inputs import EmptyText, TextTooLong

log = logging.getLogger(__name__)

FeedbackHook = Callable[[Turn, str], Awaitable[None]]


class MessagingConnector(Connector):
    def __init__(
        self, chat: ChatHandler, history: History | None, max_text_chars: int, *, state: ChannelState,
        texts: ChannelTexts, limit: Limit = SESSION_LIMIT, on_feedback: FeedbackHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(chat, history, max_text_chars)
        self.state = state
        self.texts = texts
        self.buckets = Buckets(limit, clock)
        self.clock = clock
        self.on_feedback = on_feedback
        self._told: dict[str, float] = {}  # session -> until when the rate-limit notice holds

    async def _answered(self, session: str, key: str) -> bool:
        if self.history is None or not key:
            return False
        turn = await asyncio.to_thread(self.history.find, session, key)
        return turn is not None and turn.reply is not None

    async def answer(self, inbound: Inbound, lang: str) -> Outbound | str:
        """One turn: the Outbound, or a text to send instead ("" = say nothing)."""
        try:
            self.validate(inbound)
        except EmptyText:
            return ""
        except TextTooLong:
            return self.texts.say("too_long", lang, max_chars=self.max_text_chars)
        except InvalidInput:
            log.warning("%s: a message broke the input rules", self.name)
            return ""
        session = inbound.session
        if not await self._answered(session, inbound.key):
            wait = self.buckets.take(session)
            if wait:
                now = self.clock()
                if self._told.get(session, 0.0) > now:
                    return ""
                self._told[session] = now + wait
                if len(self._told) > 10_000:
                    self._told = {s: t for s, t in self._told.items() if t > now}
                return self.texts.say("rate_limited", lang, seconds=int(wait) + 1)
        try:
            return await self.receive(inbound)
        except EngineUnavailable:
            return self.texts.say("unavailable", lang)
        except Exception:
            log.exception("%s turn failed", self.name)
            return self.texts.say("unavailable", lang)

    async def feedback(self, session: str, key: str, value: str) -> bool:
        """Thumbs on an answered turn (``Connector.record_feedback``)."""
        return await self.record_feedback(session, key, value)


def language_hint(code: Any) -> str:
    """A client's language code (Telegram's ``language_code``: "zh-hans", "en-GB") as "zh"/"en"/""."""
    value = str(code or "").lower()
    return "zh" if value.startswith("zh") else "en" if value.startswith("en") else ""
