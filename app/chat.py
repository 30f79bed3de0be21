"""ChatService: the one entry every connector (web chat, Telegram, WeChat, hotline) calls for a turn.

It forwards the citizen's text to the Rasa engine and shapes the engine's replies into the API's
message format: ``{"session", "messages": [{"text", "buttons", "card", "citations"}], "intent",
"handoff"}``.  A session handed over to staff is paused: its messages go to the hand-over ticket, not to
the bot, until staff release it.  A long conversation's engine session is compacted between turns
(``app/compaction.py``).  Owned by the dialogue work; connectors and routes only call ``handle``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from app.compaction import Compactor
from bot.language import LANGUAGES, TurnIntents, detect_language
from bot.texts import text as response_text

log = logging.getLogger("civic.chat")


class Engine(Protocol):
    """What ChatService needs from the Rasa engine (app.engine_client.RasaClient implements it)."""

    async def send(self, session: str, text: str) -> list[dict[str, Any]]: ...


class PauseState(Protocol):
    """What ChatService needs from app.conversations.Conversations."""

    def paused_ticket(self, session: str) -> str | None: ...
    def append_transcript(self, ticket_id: str, role: str, text: str) -> None: ...


@dataclass
class Reply:
    session: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    intent: dict[str, Any] = field(default_factory=lambda: {"name": None, "confidence": 0.0})
    handoff: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def new_message(text: str = "", buttons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "text": text,
        "buttons": [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in buttons or []],
        "card": None,
        "citations": [],
    }


def shape(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Engine (REST channel) messages -> API messages; a ``custom`` payload (card, citations) belongs to
    the text message it follows.  Returns (messages, whether an action handed the session over)."""
    messages: list[dict[str, Any]] = []
    handoff = False
    for m in raw:
        if m.get("text") is not None or m.get("buttons"):
            messages.append(new_message(str(m.get("text") or ""), m.get("buttons")))
        custom = m.get("custom")
        if isinstance(custom, dict):
            handoff = handoff or bool(custom.get("handoff"))
            if not messages:
                messages.append(new_message())
            target = messages[-1]
            if isinstance(custom.get("card"), dict):
                target["card"] = custom["card"]
            if isinstance(custom.get("citations"), list):
                target["citations"].extend(c for c in custom["citations"] if isinstance(c, dict))
    return messages, handoff


class ChatService:
    def __init__(
        self, engine: Engine, conversations: PauseState | None = None, domain: dict[str, Any] | None = None,
        max_session_events: int = 0,
    ) -> None:
        self.engine = engine
        self.conversations = conversations
        self.domain = domain or {}
        self.intents: TurnIntents | None = None
        self.compactor = Compactor(max_session_events)
        self.compactor.use_domain(self.domain)

    def use_conversations(
        self, conversations: PauseState, domain: dict[str, Any] | None, intents: TurnIntents | None = None
    ) -> None:
        """Wire in the hand-over state, the domain's texts and the intents the in-app actions note
        (done by the action endpoint at start-up)."""
        self.conversations = conversations
        if domain is not None:
            self.domain = domain
            self.compactor.use_domain(domain)
        self.intents = intents

    async def handle(self, session: str, text: str, language: str | None = None) -> Reply:
        """One turn.  ``language`` is the client's hint ("zh"/"en", e.g. the web chat's UI language), used
        when ``text`` has no language of its own (a button payload) and the conversation has none yet."""
        ticket = self.conversations.paused_ticket(session) if self.conversations else None
        if ticket is not None and self.conversations is not None:
            self.conversations.append_transcript(ticket, "citizen", text)
            lang = detect_language(text) or (language if language in LANGUAGES else None) or "zh"
            notice = response_text(self.domain, "utter_paused", lang, ticket=ticket)
            return Reply(session=session, messages=[new_message(notice)] if notice else [],
                         intent={"name": None, "confidence": 0.0}, handoff=True)
        if self.intents is not None:
            self.intents.hint_language(session, language)
        await self.compactor.before_turn(self.engine, session)
        raw = await self.engine.send(session, text)
        noted = None
        if self.intents is not None:
            self.intents.take_language(session)  # unused (the engine did not run the actions): drop it
            noted = self.intents.take(session)
            self.compactor.after_turn(self.engine, session, self.intents.take_size(session))
        intent = noted or await self._intent(getattr(self.engine, "parse", None), text)
        messages, handed_over = shape(raw)
        paused = bool(self.conversations and self.conversations.paused_ticket(session))
        return Reply(session=session, messages=messages, intent=intent, handoff=handed_over or paused)

    async def drain(self) -> None:
        """Wait for the compactions in flight (at shut-down, and in tests)."""
        await self.compactor.drain()

    @staticmethod
    async def _intent(parse: Any, text: str) -> dict[str, Any]:
        """Ask the engine's NLU (only when the in-app actions did not note the intent of this turn)."""
        if not callable(parse):
            return {"name": None, "confidence": 0.0}
        try:
            result = await parse(text)
        except Exception as exc:  # the intent is informative; never fail a turn over it
            log.warning("could not parse the intent: %s", exc)
            return {"name": None, "confidence": 0.0}
        intent = result.get("intent") or {}
        return {"name": intent.get("name"), "confidence": round(float(intent.get("confidence") or 0.0), 4)}
