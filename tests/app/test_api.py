"""The app's HTTP edge: /api/chat validation and /healthz, with a fake engine (the real engine path is
covered end to end in tests/serve/test_stack.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from app.factory import create_app
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings, engine: FakeEngine) -> TestClient:
    app = create_app(settings, engine=engine, retriever=FakeRetriever())
    return await aiohttp_client(app)


async def test_chat_round_trip_through_engine(client: TestClient, engine: FakeEngine) -> None:
    resp = await client.post("/api/chat", json={"session": "s1", "text": "  你好  "})
    assert resp.status == 200
    body = await resp.json()
    assert body["session"] == "s1"
    assert body["messages"][0]["text"] == "echo:你好"
    assert engine.turns == [("s1", "你好")]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"session": "s1", "text": "办" * 501}, "limit is 500"),
        ({"session": "s1", "text": ""}, "'text' is empty"),
        ({"session": "s1", "text": "   \n "}, "'text' is empty"),
        ({"session": "s1"}, "'text' is missing"),
        ({"session": "s1", "text": 42}, "'text' is missing"),
        ({"text": "你好"}, "'session' is missing"),
        ({"session": "", "text": "你好"}, "'session' is missing"),
        (["session", "text"], "JSON object"),
    ],
)
async def test_chat_rejects_bad_requests(
    client: TestClient, engine: FakeEngine, payload: Any, needle: str
) -> None:
    resp = await client.post("/api/chat", json=payload)
    assert resp.status == 400
    body = await resp.json()
    assert needle in body["error"]
    assert body["type"] == "InvalidInput"
    assert engine.turns == []


async def test_chat_accepts_exactly_the_limit(client: TestClient) -> None:
    resp = await client.post("/api/chat", json={"session": "s1", "text": "办" * 500})
    assert resp.status == 200


@pytest.mark.parametrize("raw", [b"not json", b"", b'{"session": "s1", "text": ', b"\xff\xfe"])
async def test_chat_rejects_non_json(client: TestClient, raw: bytes) -> None:
    resp = await client.post("/api/chat", data=raw, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert "not valid UTF-8 JSON" in (await resp.json())["error"]


async def test_chat_with_the_engine_down_answers_from_search(client: TestClient, engine: FakeEngine) -> None:
    engine.up = False
    resp = await client.post("/api/chat", json={"session": "s1", "text": "你好"})
    assert resp.status == 200
    body = await resp.json()
    assert body["mode"] == "search"
    assert "智能对话正在启动" in body["messages"][0]["text"]  # nothing found, plainly marked, buttons offered
    assert [b["payload"] for b in body["messages"][0]["buttons"]] == ["/ask_status", "/request_human"]
    assert engine.turns == []


async def test_api_errors_from_aiohttp_are_json(client: TestClient) -> None:
    resp = await client.get("/api/chat")
    assert resp.status == 405
    assert "error" in await resp.json()


async def test_healthz_ok_when_everything_is_up(client: TestClient) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["status"] == "ok" and body["mode"] == "dialogue" and body["answering"] is True
    engine = body["engine"]
    assert (engine["state"], engine["healthy"]) == ("up", True)
    assert engine["model"] == "20260101-000000-test.tar.gz"
    assert body["archive"]["ok"] is True
    assert body["archive"]["info"]["documents"]["total"] == 0
    assert body["index"]["ok"] is True


async def test_healthz_503_when_engine_down(client: TestClient, engine: FakeEngine) -> None:
    engine.up = False
    resp = await client.get("/healthz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "degraded"
    assert body["engine"]["reachable"] is False
    assert body["engine"]["healthy"] is False
    assert body["engine"]["state"] == "down"
    assert body["app"]["ok"] is True
    assert body["answering"] is True and body["mode"] == "search"


async def test_healthz_503_when_index_failed(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    class BrokenRetriever:
        def warm_up(self) -> None:
            raise FileNotFoundError("index/ is empty: run `civic index build`")

    client = await aiohttp_client(create_app(settings, engine=FakeEngine(), retriever=BrokenRetriever()))
    resp = await client.get("/healthz")
    assert resp.status == 503
    body = await resp.json()
    assert body["index"]["ok"] is False
    assert "civic index build" in body["index"]["detail"]


async def test_unexpected_error_is_logged_500(
    aiohttp_client: AiohttpClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(FakeEngine):
        async def send(self, session: str, text: str, metadata: Any = None, intent: Any = None) -> Any:
            raise RuntimeError("boom")

    client = await aiohttp_client(create_app(settings, engine=Exploding(), retriever=FakeRetriever()))
    resp = await client.post("/api/chat", json={"session": "s1", "text": "你好"})
    assert resp.status == 500
    assert "boom" not in (await resp.text())
    assert any("boom" in (r.exc_text or "") for r in caplog.records)


async def test_resources_closed_on_shutdown(settings: Settings) -> None:
    engine = FakeEngine()
    app: web.Application = create_app(settings, engine=engine, retriever=FakeRetriever())
    runner = web.AppRunner(app)
    await runner.setup()
    assert engine.closed is False
    await runner.cleanup()
    assert engine.closed is True
