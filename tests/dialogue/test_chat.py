"""ChatService: the reply shape of the API, paused sessions, and the intent report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.chat import ChatService, shape
from app.conversations import Conversations
from bot.texts import load_domain
from civic.config import REPO_ROOT


class FakeEngine:
    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        self.sent: list[tuple[str, str]] = []

    async def send(self, session: str, text: str) -> list[dict[str, Any]]:
        self.sent.append((session, text))
        return self.replies

    async def parse(self, text: str) -> dict[str, Any]:
        return {"intent": {"name": "ask_guide", "confidence": 0.912345}}


REST_REPLY = [
    {"recipient_id": "s", "text": "「结婚登记」的收费标准：免费",
     "buttons": [{"title": "所需材料", "payload": '/ask_guide{"aspect": "materials"}'}]},
    {"recipient_id": "s", "custom": {"card": {"type": "guide", "title": "结婚登记"},
                                     "citations": [{"id": "SF-G-001", "title": "结婚登记"}]}},
    {"recipient_id": "s", "text": "还有什么可以帮您？"},
]


def test_custom_payload_attaches_card_and_citations_to_the_text_before_it() -> None:
    messages, handoff = shape(REST_REPLY)
    assert handoff is False
    assert len(messages) == 2
    first, second = messages
    assert first["buttons"] == [{"title": "所需材料", "payload": '/ask_guide{"aspect": "materials"}'}]
    assert first["card"]["title"] == "结婚登记"
    assert first["citations"] == [{"id": "SF-G-001", "title": "结婚登记"}]
    assert second == {"text": "还有什么可以帮您？", "buttons": [], "card": None, "citations": []}


async def test_reply_has_the_issue_shape_with_intent(tmp_path: Path) -> None:
    service = ChatService(FakeEngine(REST_REPLY), Conversations(tmp_path / "app.db"))
    reply = (await service.handle("s", "结婚登记多少钱")).to_json()
    assert set(reply) == {"session", "messages", "intent", "handoff"}
    assert reply["intent"] == {"name": "ask_guide", "confidence": 0.9123}
    assert reply["handoff"] is False
    assert set(reply["messages"][0]) == {"text", "buttons", "card", "citations"}


async def test_paused_session_goes_to_the_ticket_not_the_bot(tmp_path: Path) -> None:
    conversations = Conversations(tmp_path / "app.db")
    engine = FakeEngine(REST_REPLY)
    service = ChatService(engine, conversations, load_domain(REPO_ROOT / "domain"))
    ticket = conversations.handover("s", "转人工", [{"role": "citizen", "text": "转人工"}])
    reply = await service.handle("s", "请尽快联系我")
    assert reply.handoff is True
    assert engine.sent == []
    assert ticket.id in reply.messages[0]["text"]  # utter_paused from domain.yml
    assert conversations.get_ticket(ticket.id).transcript[-1] == {"role": "citizen", "text": "请尽快联系我"}
    english = await service.handle("s", "are you there?")
    assert english.messages[0]["text"].startswith("Your message")
    conversations.release("s")
    resumed = await service.handle("s", "你好")
    assert resumed.handoff is False and engine.sent == [("s", "你好")]
    assert conversations.get_ticket(ticket.id).status == "closed"


async def test_an_action_handing_over_sets_handoff() -> None:
    service = ChatService(FakeEngine([{"text": "已为您转接", "recipient_id": "s"},
                                      {"custom": {"handoff": True, "ticket": "H1"}, "recipient_id": "s"}]))
    reply = await service.handle("s", "转人工")
    assert reply.handoff is True
    assert [m["text"] for m in reply.messages] == ["已为您转接"]


async def test_intent_noted_by_the_in_app_action_is_used_without_a_parse_call() -> None:
    from bot.language import TurnIntents

    class NoParse(FakeEngine):
        async def parse(self, text: str) -> dict[str, Any]:
            raise AssertionError("no second NLU call expected")

    intents = TurnIntents()
    engine = NoParse(REST_REPLY)

    async def send(session: str, text: str) -> list[dict[str, Any]]:
        intents.note(session, {"name": "ask_guide", "confidence": 0.97})  # what action_detect_language does
        return REST_REPLY

    engine.send = send  # type: ignore[method-assign]
    service = ChatService(engine)
    service.intents = intents
    reply = await service.handle("s", "结婚登记多少钱")
    assert reply.intent == {"name": "ask_guide", "confidence": 0.97}
    assert intents.take("s") is None


class LongSessionEngine(FakeEngine):
    """Notes the session's size as action_detect_language does; records compactions, which may block."""

    def __init__(self, intents: Any, sizes: list[int]) -> None:
        super().__init__(REST_REPLY)
        self.intents, self.sizes = intents, sizes
        self.executed: list[tuple[str, str]] = []
        self.release = asyncio.Event()

    async def send(self, session: str, text: str) -> list[dict[str, Any]]:
        self.sent.append((session, text))
        self.intents.note_size(session, self.sizes.pop(0))
        return REST_REPLY

    async def execute(self, session: str, action: str) -> None:
        await self.release.wait()
        self.executed.append((session, action))
        self.sent.append((session, action))  # in order with the turns


async def test_a_long_session_is_compacted_once_after_the_reply_and_a_short_one_never() -> None:
    from bot.language import TurnIntents

    intents = TurnIntents()
    engine = LongSessionEngine(intents, [99, 100, 130, 12])
    service = ChatService(engine, max_session_events=100)
    service.intents = intents
    await service.handle("s", "你好")  # 99 events: short enough
    await service.drain()
    assert engine.executed == []
    reply = await service.handle("s", "结婚登记多少钱")  # 100: compaction starts, the reply does not wait
    assert reply.messages and engine.executed == []
    await service.handle("s", "谢谢")  # still compacting: not started twice
    engine.release.set()
    await service.drain()
    assert engine.executed == [("s", "action_compact_session")]
    await service.handle("s", "那要多少钱")  # 12 events after compaction
    await service.drain()
    assert len(engine.executed) == 1


async def test_compaction_off_or_failing_never_fails_a_turn() -> None:
    from bot.language import TurnIntents

    class Broken(LongSessionEngine):
        async def execute(self, session: str, action: str) -> None:
            self.executed.append((session, action))
            raise ConnectionError("engine gone")

    intents = TurnIntents()
    off = ChatService(LongSessionEngine(intents, [500]), max_session_events=0)
    off.intents = intents
    await off.handle("s", "你好")
    await off.drain()
    assert off.engine.executed == []  # type: ignore[attr-defined]
    engine = Broken(intents, [500, 500])
    broken = ChatService(engine, max_session_events=100)
    broken.intents = intents
    assert (await broken.handle("s", "你好")).messages
    await broken.drain()
    assert (await broken.handle("s", "你好")).messages
    await broken.drain()
    assert len(engine.executed) == 2  # the failure was logged, the next long turn tried again


async def test_the_first_message_after_a_pause_that_followed_a_compaction_starts_a_clean_session() -> None:
    from bot.language import TurnIntents

    intents = TurnIntents()
    engine = LongSessionEngine(intents, [150, 8, 150, 8])
    engine.release.set()
    now = [1000.0]
    service = ChatService(engine, domain={"session_config": {"session_expiration_time": 60}},
                          max_session_events=100)
    service.intents = intents
    service.compactor.clock = lambda: now[0]
    await service.handle("s", "结婚登记多少钱")
    await service.drain()
    now[0] += 10 * 60  # ten minutes: the same conversation goes on
    await service.handle("s", "那要带什么")
    assert engine.executed == [("s", "action_compact_session")]
    await service.handle("s", "谢谢")
    await service.drain()
    now[0] += 61 * 60  # longer than the session expiry: Rasa cannot see this pause, the app can
    await service.handle("s", "你好")
    assert engine.sent[-2:] == [("s", "action_session_start"), ("s", "你好")]
    assert [a for _, a in engine.executed] == ["action_compact_session", "action_compact_session",
                                                "action_session_start"]
