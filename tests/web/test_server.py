"""The web chat's server side through real HTTP and WebSockets (aiohttp test client, real app.db)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from app.keys import CONVERSATIONS, HISTORY
from app.webchat import STATIC_DIR
from connectors.ratelimit import Limit, RateLimiter
from core.settings import Settings
from tests.web.fakes import FakeChat, fake_app

SID = "a" * 32
Client = Any


@pytest.fixture
def chat() -> FakeChat:
    return FakeChat()


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, chat: FakeChat) -> TestClient:
    return await aiohttp_client(fake_app(settings, chat))


async def ws_turn(
    client: TestClient, text: str, key: str, sid: str = SID, **extra: str
) -> list[dict[str, Any]]:
    """Send one message on a fresh socket; return the frames up to the reply or error."""
    frames = []
    async with client.ws_connect(f"/ws?session={sid}") as ws:
        await ws.send_json({"type": "message", "key": key, "text": text, **extra})
        while True:
            frame = await ws.receive_json(timeout=10)
            frames.append(frame)
            if frame["type"] in {"reply", "error"}:
                return frames


async def test_page_has_csp_without_inline_script(client: TestClient) -> None:
    res = await client.get("/")
    assert res.status == 200
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = await res.text()
    assert "{{MAX_CHARS}}" not in html and 'data-max-chars="500"' in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
    assert re.search(r"<script[^>]*>\s*[^<\s]", html) is None  # no inline script body
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers
    assert not re.search(r"https?://", html.replace('xmlns="http://www.w3.org', ""))  # no CDN
    js = await client.get("/webchat/static/chat.js")
    assert js.status == 200 and "Content-Security-Policy" in js.headers


def test_assets_are_small_and_never_parse_html() -> None:
    assets = [*STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("*.css")]
    assert len(assets) >= 4
    assert sum(p.stat().st_size for p in assets) <= 150 * 1024
    js = "\n".join(p.read_text(encoding="utf-8") for p in STATIC_DIR.glob("*.js"))
    code = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink


async def test_socket_turn_is_acked_answered_and_kept(client: TestClient) -> None:
    frames = await ws_turn(client, "办居住证要带什么", "k" * 16)
    assert [f["type"] for f in frames] == ["ack", "reply"]
    reply = frames[-1]["reply"]
    assert reply["session"] == f"web:{SID}"
    assert reply["messages"][0]["card"]["checklist"][0] == "居民身份证原件"
    res = await client.get(f"/api/webchat/history?session={SID}")
    turns = (await res.json())["turns"]
    assert [t["text"] for t in turns] == ["办居住证要带什么"]
    assert turns[0]["reply"]["messages"][0]["citations"][0]["doc_no"] == "示公规〔2023〕5号"


async def test_same_key_runs_the_dialogue_once_over_both_transports(
    client: TestClient, chat: FakeChat
) -> None:
    key = "queued-offline-1"
    first = (await ws_turn(client, "你好", key))[-1]
    again = (await ws_turn(client, "你好", key))[-1]
    res = await client.post("/api/webchat/message", json={"session": f"web:{SID}", "text": "你好"},
                            headers={"Idempotency-Key": key})
    http = await res.json()
    assert chat.calls["你好"] == 1
    assert (first["duplicate"], again["duplicate"], http["duplicate"]) == (False, True, True)
    assert first["reply"]["messages"] == again["reply"]["messages"] == http["messages"]
    assert len((await (await client.get(f"/api/webchat/history?session={SID}")).json())["turns"]) == 1


async def test_the_ui_language_reaches_the_dialogue_as_a_hint(client: TestClient, chat: FakeChat) -> None:
    await ws_turn(client, "/request_human", "lang-key-01", lang="en")
    await ws_turn(client, "/greet", "lang-key-02")
    await ws_turn(client, "/thank", "lang-key-03", lang="fr")  # not a language the bot speaks: no hint
    res = await client.post("/api/webchat/message",
                            json={"session": f"web:{SID}", "text": "/affirm", "lang": "en"},
                            headers={"Idempotency-Key": "lang-key-04"})
    assert res.status == 200
    assert chat.languages == {"/request_human": "en", "/greet": None, "/thank": None, "/affirm": "en"}


async def test_racing_redelivery_waits_for_the_first_answer(client: TestClient, chat: FakeChat) -> None:
    import asyncio

    chat.delay = 0.3
    a, b = await asyncio.gather(
        ws_turn(client, "慢一点", "race-key-1"), ws_turn(client, "慢一点", "race-key-1")
    )
    assert chat.calls["慢一点"] == 1
    assert a[-1]["reply"]["messages"] == b[-1]["reply"]["messages"]


async def test_http_fallback_validates_like_the_socket(client: TestClient) -> None:
    too_long = await client.post(
        "/api/webchat/message",
        json={"session": f"web:{SID}", "text": "长" * 501},
        headers={"Idempotency-Key": "long-key-1"},
    )
    assert too_long.status == 400 and (await too_long.json())["error"] == "too_long"
    frames = await ws_turn(client, "   ", "empty-key-1")
    assert frames[-1]["code"] == "empty"
    bad = await client.post("/api/webchat/message", data=b"{not json",
                            headers={"Idempotency-Key": "bad-key-01"})
    assert bad.status == 400
    foreign = await client.post("/api/webchat/message", json={"session": "tg:1", "text": "hi"},
                                headers={"Idempotency-Key": "tg-key-001"})
    assert foreign.status == 400


async def test_the_rest_api_is_its_own_route(client: TestClient, chat: FakeChat) -> None:
    """/api/chat is the REST API (the dialogue itself, here answering from search: no engine runs in this
    test), not the web chat's transport, even with an Idempotency-Key header."""
    res = await client.post("/api/chat", json={"session": "bench-1", "text": "你好"},
                            headers={"Idempotency-Key": "plain-key-1"})
    body = await res.json()
    assert res.status == 200 and body["mode"] == "search" and "duplicate" not in body
    assert chat.calls["你好"] == 0
    # recorded for the analytics as channel "api" under a key of its own, not the header's
    [turn] = client.app[HISTORY].recent("bench-1")
    assert turn.key.startswith("api-") and turn.key != "plain-key-1" and turn.reply == body


async def test_rate_limits_are_polite(aiohttp_client: Any, settings: Settings, chat: FakeChat) -> None:
    limiter = RateLimiter(session_limit=Limit(burst=2, per_second=0.01), ip_limit=Limit(100, 10))
    client = await aiohttp_client(fake_app(settings, chat, limiter))
    for i in range(2):
        assert (await ws_turn(client, f"第{i}条", f"rate-key-{i}"))[-1]["type"] == "reply"
    limited = (await ws_turn(client, "第2条", "rate-key-2"))[-1]
    assert limited["code"] == "rate_limited" and limited["retry_after"] >= 1
    res = await client.post(
        "/api/webchat/message",
        json={"session": f"web:{SID}", "text": "第3条"},
        headers={"Idempotency-Key": "rate-key-3"},
    )
    assert res.status == 429 and int(res.headers["Retry-After"]) >= 1
    # a re-sent message whose answer is stored costs no token and still gets its answer
    assert (await ws_turn(client, "第0条", "rate-key-0"))[-1]["duplicate"] is True
    # another session from the same address still gets through
    assert (await ws_turn(client, "你好", "rate-key-9", sid="b" * 32))[-1]["type"] == "reply"


async def test_feedback_is_recorded_per_answer(client: TestClient) -> None:
    await ws_turn(client, "办居住证要带什么", "fb-key-0001")
    ok = await client.post(
        "/api/webchat/feedback", json={"session": SID, "key": "fb-key-0001", "value": "down"}
    )
    assert ok.status == 200
    turns = (await (await client.get(f"/api/webchat/history?session={SID}")).json())["turns"]
    assert turns[0]["feedback"] == "down"
    log = client.app[HISTORY].feedback_log(f"web:{SID}")
    assert [(e["key"], e["value"]) for e in log] == [("fb-key-0001", "down")]
    curation = client.app[CONVERSATIONS].list_log("feedback_bad")  # the admins' curation log sees it too
    assert [(e["session"], e["text"]) for e in curation] == [(f"web:{SID}", "办居住证要带什么")]
    unknown = await client.post(
        "/api/webchat/feedback", json={"session": SID, "key": "nope-0000", "value": "up"}
    )
    assert unknown.status == 404
    bad = await client.post(
        "/api/webchat/feedback", json={"session": SID, "key": "fb-key-0001", "value": "meh"}
    )
    assert bad.status == 400


async def test_a_failed_turn_is_answered_when_re_sent(client: TestClient, chat: FakeChat) -> None:
    chat.fail = True
    assert (await ws_turn(client, "你好", "fail-key-01"))[-1]["code"] == "internal"
    chat.fail = False
    frames = await ws_turn(client, "你好", "fail-key-01")
    assert frames[-1]["type"] == "reply" and frames[-1]["duplicate"] is False
    assert chat.calls["你好"] == 2


async def test_bad_session_ids_are_refused(client: TestClient) -> None:
    for sid in ("", "x" * 65, "a b", "<script>"):
        res = await client.get("/api/webchat/history", params={"session": sid})
        assert res.status == 400, sid
    with pytest.raises(Exception):  # noqa: B017 - the handshake itself is refused (400)
        await client.ws_connect("/ws?session=%3Cscript%3E")


def test_app_is_a_web_application(settings: Settings) -> None:
    assert isinstance(fake_app(settings, FakeChat()), web.Application)
