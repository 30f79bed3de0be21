"""ChatService: the reply shape of the API, paused sessions, the intent report and compaction, all from the
engine's answer to the turn itself (nothing kept in the process between calls)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app.chat import ChatService
from app.compaction import Compactor
from app.conversations import Conversations
from app.engine_client import EngineHealth, EngineTurn
from app.engine_state import EngineMonitor
from app.messages import shape
from bot.texts import load_domain
from core.settings import REPO_ROOT

DOMAIN = load_domain(REPO_ROOT / "domain")


class FakeEngine:
    def __init__(self, replies: list[dict[str, Any]], sizes: list[int] | None = None,
                 intent: dict[str, Any] | None = None) -> None:
        self.replies = replies
        self.sizes = sizes or []
        self.intent = intent or {"name": "ask_guide", "confidence": 0.9123}
        self.sent: list[tuple[str, str]] = []
        self.executed: list[tuple[str, str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.on_execute: Any = None

    async def send(self, session: str, text: str, metadata: Any = None, intent: Any = None) -> EngineTurn:
        self.sent.append((session, text))
        events = self.sizes.pop(0) if self.sizes else 7
        return EngineTurn(self.replies, dict(self.intent), events)

    async def execute(self, session: str, action: str) -> None:
        await self.release.wait()
        self.executed.append((session, action))
        self.sent.append((session, action))  # in order with the turns
        if self.on_execute is not None:
            self.on_execute(session, action)

    async def health(self) -> EngineHealth:
        return EngineHealth(reachable=True, model="m.tar.gz")

    async def close(self) -> None:
        return None


async def service_for(engine: Any, conversations: Conversations, max_events: int = 0,
                      domain: dict[str, Any] | None = None) -> ChatService:
    monitor = EngineMonitor(engine)
    await monitor.probe()
    compactor = Compactor.for_domain(max_events, conversations, domain or DOMAIN)
    return ChatService(engine, monitor, conversations, None, domain or DOMAIN, compactor)


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


async def test_reply_has_the_issue_shape_with_the_intent_the_engine_reported(tmp_path: Path) -> None:
    service = await service_for(FakeEngine(REST_REPLY), Conversations(tmp_path / "app.db"))
    reply = (await service.handle("s", "结婚登记多少钱")).to_json()
    assert set(reply) == {"session", "messages", "intent", "handoff", "mode"}
    assert reply["intent"] == {"name": "ask_guide", "confidence": 0.9123}
    assert reply["handoff"] is False and reply["mode"] == "dialogue"
    assert set(reply["messages"][0]) == {"text", "buttons", "card", "citations"}


async def test_paused_session_goes_to_the_ticket_not_the_bot(tmp_path: Path) -> None:
    conversations = Conversations(tmp_path / "app.db")
    engine = FakeEngine(REST_REPLY)
    service = await service_for(engine, conversations)
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


async def test_an_action_handing_over_sets_handoff(tmp_path: Path) -> None:
    engine = FakeEngine([{"text": "已为您转接", "recipient_id": "s"},
                         {"custom": {"handoff": True, "ticket": "H1"}, "recipient_id": "s"}])
    reply = await (await service_for(engine, Conversations(tmp_path / "app.db"))).handle("s", "转人工")
    assert reply.handoff is True
    assert [m["text"] for m in reply.messages] == ["已为您转接"]


async def test_a_long_session_is_compacted_once_after_the_reply_and_a_short_one_never(tmp_path: Path) -> None:
    engine = FakeEngine(REST_REPLY, [99, 100, 130, 12])
    engine.release.clear()
    service = await service_for(engine, Conversations(tmp_path / "app.db"), max_events=100)
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


async def test_compaction_off_or_failing_never_fails_a_turn(tmp_path: Path) -> None:
    class Broken(FakeEngine):
        async def execute(self, session: str, action: str) -> None:
            self.executed.append((session, action))
            raise ConnectionError("engine gone")

    conversations = Conversations(tmp_path / "app.db")
    quiet = FakeEngine(REST_REPLY, [500])
    off = await service_for(quiet, conversations, max_events=0)
    await off.handle("s", "你好")
    await off.drain()
    assert quiet.executed == []
    engine = Broken(REST_REPLY, [500, 500])
    broken = await service_for(engine, conversations, max_events=100)
    assert (await broken.handle("s", "你好")).messages
    await broken.drain()
    assert (await broken.handle("s", "你好")).messages
    await broken.drain()
    assert len(engine.executed) == 2  # the failure was logged, the next long turn tried again


async def test_the_first_message_after_a_pause_that_followed_a_compaction_starts_a_clean_session(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    conversations = Conversations(tmp_path / "app.db", clock=lambda: now[0])
    engine = FakeEngine(REST_REPLY, [150, 8, 150, 8])

    def compacted(session: str, action: str) -> None:  # what action_compact_session records (bot/session.py)
        if action == "action_compact_session":
            conversations.carry_transcript(session, f"mark-{len(engine.executed)}", [])

    engine.on_execute = compacted
    service = await service_for(engine, conversations, max_events=100,
                                domain={**DOMAIN, "session_config": {"session_expiration_time": 60}})
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


async def test_the_compaction_mark_is_shared_by_every_app_replica(tmp_path: Path) -> None:
    """The pause check reads app.db, so a turn on another app process after the compaction sees it."""
    now = [1000.0]
    conversations = Conversations(tmp_path / "app.db", clock=lambda: now[0])
    conversations.carry_transcript("s", "mark", [])  # compacted by an action on some replica
    other = Conversations(tmp_path / "app.db", clock=lambda: now[0])  # another process's connection
    engine = FakeEngine(REST_REPLY)
    service = await service_for(engine, other, max_events=100)
    service.compactor.clock = lambda: now[0] + 61 * 60
    await service.handle("s", "你好")
    assert engine.sent == [("s", "action_session_start"), ("s", "你好")]
