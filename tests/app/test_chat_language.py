"""The client's language hint: accepted by /api/chat, carried to the engine in the message metadata (where
the civic channel sets the ``language`` slot, tests/dialogue/test_engine.py), and used for the paused notice.
The rule itself is core.inputs.conversation_language (tests/core/test_inputs.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.conversations import Conversations
from app.factory import create_app
from app.keys import CONVERSATIONS
from bot.texts import load_domain, text
from core.settings import REPO_ROOT, Settings
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any
DOMAIN = load_domain(REPO_ROOT / "domain")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings, engine: FakeEngine) -> TestClient:
    return await aiohttp_client(create_app(settings, engine=engine, retriever=FakeRetriever()))


async def test_the_hint_travels_with_the_message_it_belongs_to(
    client: TestClient, engine: FakeEngine
) -> None:
    for body in ({"session": "s", "text": "/request_human", "language": "en"},
                 {"session": "s", "text": "/request_human"}):
        assert (await client.post("/api/chat", json=body)).status == 200
    assert [m["language"] for m in engine.metadata] == ["en", None]
    assert engine.metadata[0]["channel"] == "api" and engine.metadata[0]["capabilities"] == {}


async def test_the_paused_notice_follows_the_hint_for_a_payload(client: TestClient) -> None:
    conversations: Conversations = client.app[CONVERSATIONS]
    conversations.handover("s", "/request_human", [])
    replies = []
    for body in ({"session": "s", "text": "/request_human", "language": "en"},
                 {"session": "s", "text": "/request_human"},
                 {"session": "s", "text": "还在吗", "language": "en"}):  # a typed message's own language wins
        replies.append(await (await client.post("/api/chat", json=body)).json())
    ticket = conversations.paused_ticket("s")
    english, chinese, typed = (r["messages"][0]["text"] for r in replies)
    assert english == text(DOMAIN, "utter_paused", "en", ticket=ticket)
    assert chinese == text(DOMAIN, "utter_paused", "zh", ticket=ticket)
    assert typed == chinese != english
    assert all(r["handoff"] and r["mode"] == "paused" for r in replies)


@pytest.mark.parametrize(("language", "status"), [("en", 200), ("zh", 200), ("fr", 400), (1, 400)])
async def test_api_chat_accepts_only_known_languages(client: TestClient, language: Any, status: int) -> None:
    resp = await client.post("/api/chat", json={"session": "s", "text": "/greet", "language": language})
    assert resp.status == status
    if status == 400:
        assert "'language'" in (await resp.json())["error"]
