"""The client's language hint: accepted by /api/chat, handed to the actions for a turn without a language of
its own, and used for the paused notice; the dialogue side is in tests/bot/test_policy_language.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.chat import ChatService
from app.conversations import Conversations
from app.factory import create_app
from bot.language import TurnIntents
from bot.texts import load_domain, text
from civic.config import REPO_ROOT, Settings
from tests.app.test_api import FakeEngine, FakeRetriever

AiohttpClient = Any
DOMAIN = load_domain(REPO_ROOT / "domain")


class HintReadingEngine:
    """Stands in for the engine running action_detect_language: reads the hint during the turn."""

    def __init__(self, intents: TurnIntents) -> None:
        self.intents = intents
        self.seen: list[str | None] = []

    async def send(self, session: str, text: str) -> list[dict[str, Any]]:
        self.seen.append(self.intents.take_language(session))
        return [{"text": "ok"}]


@pytest.fixture
def conversations(tmp_path: Path) -> Conversations:
    return Conversations(tmp_path / "app.db")


async def test_the_hint_is_there_for_the_actions_during_that_turn_only(conversations: Conversations) -> None:
    intents = TurnIntents()
    engine = HintReadingEngine(intents)
    service = ChatService(engine)
    service.use_conversations(conversations, DOMAIN, intents)
    await service.handle("s", "/request_human", "en")
    await service.handle("s", "/request_human")
    await service.handle("s", "/request_human", "xx")
    assert engine.seen == ["en", None, None]
    assert intents.take_language("s") is None


async def test_the_paused_notice_follows_the_hint_for_a_payload(conversations: Conversations) -> None:
    service = ChatService(FakeEngine())
    service.use_conversations(conversations, DOMAIN, TurnIntents())
    conversations.handover("s", "/request_human", [])
    english = await service.handle("s", "/request_human", "en")
    chinese = await service.handle("s", "/request_human")
    typed = await service.handle("s", "还在吗", "en")  # a typed message's own language wins
    ticket = conversations.paused_ticket("s")
    assert english.messages[0]["text"] == text(DOMAIN, "utter_paused", "en", ticket=ticket)
    assert chinese.messages[0]["text"] == text(DOMAIN, "utter_paused", "zh", ticket=ticket)
    assert typed.messages[0]["text"] == chinese.messages[0]["text"] != english.messages[0]["text"]


@pytest.mark.parametrize(("language", "status"), [("en", 200), ("zh", 200), ("fr", 400), (1, 400), ("", 400)])
async def test_api_chat_accepts_only_known_languages(
    aiohttp_client: AiohttpClient, settings: Settings, language: Any, status: int
) -> None:
    client: TestClient = await aiohttp_client(
        create_app(settings, engine=FakeEngine(), retriever=FakeRetriever()))
    resp = await client.post("/api/chat", json={"session": "s", "text": "/greet", "language": language})
    assert resp.status == status
    if status == 400:
        assert "'language'" in (await resp.json())["error"]
