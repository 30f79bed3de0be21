"""The staff console's call socket (GET /api/admin/staff/calls/{call_id}/live) over the real app (the demo
corpus, BM25 search): a staff session opens it, the call centre drives the call over the hotline's HTTP
route with its token, and the socket gets the call's state first (the GET's JSON), then each masked
transcript line and the suggestions as they are pushed, then the order.  Refused: no session (401), the wrong
role (403), a foreign or missing Origin (403); a session that ends closes it (4401)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient

from app import staff_console
from app.factory import create_app
from archive.store import Archive
from core.settings import Settings
from retrieval.service import Retriever
from tests.admin.conftest import create_users, signed_in_client
from tests.app.fakes import FakeEngine
from tests.hotline.conftest import add_token

CALL = "live-1"
LIVE = f"/api/admin/staff/calls/{CALL}/live"


def segment(seq: int, text: str, speaker: str = "caller") -> dict[str, Any]:
    return {"seq": seq, "speaker": speaker, "text": text, "is_final": True, "start_ms": seq * 3000,
            "end_ms": seq * 3000 + 2500}


class Stack:
    def __init__(self, asr: TestClient, token: str, clients: dict[str, TestClient]) -> None:
        self.asr, self.token, self.clients = asr, token, clients
        self.bearer = {"Authorization": f"Bearer {token}"}

    def origin(self) -> dict[str, str]:
        return {"Origin": str(self.asr.make_url("")).rstrip("/")}

    async def say(self, *segments: dict[str, Any]) -> None:
        response = await self.asr.post(f"/api/hotline/calls/{CALL}/segments", json=list(segments),
                                       headers=self.bearer)
        assert response.status == 200, await response.text()


@pytest.fixture
async def stack(aiohttp_client: Any, settings: Settings, demo_archive: Archive, demo_retriever: Retriever
                ) -> AsyncIterator[Stack]:
    create_users(settings)
    token = add_token(settings)
    app = create_app(settings, engine=FakeEngine(), archive=demo_archive, retriever=demo_retriever)
    asr: TestClient = await aiohttp_client(app)
    clients: dict[str, TestClient] = {}
    for name in ("staff1", "reviewer1"):
        clients[name] = await signed_in_client(asr.server, name)
    clients["nobody"] = TestClient(asr.server, cookie_jar=CookieJar(unsafe=True))
    await clients["nobody"].start_server()
    try:
        yield Stack(asr, token, clients)
    finally:
        for client in clients.values():
            await client.close()


async def frame_of(ws: Any, kind: str, skipped: list[str]) -> dict[str, Any]:
    """The next frame of ``kind`` (the ones before it are named in ``skipped``)."""
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=30)
        if frame["type"] == kind:
            return frame
        skipped.append(frame["type"])


async def test_the_staff_socket_gets_the_call_then_its_lines_suggestions_and_order(stack: Stack) -> None:
    staff = stack.clients["staff1"]
    await stack.say(segment(0, "您好，12345", "agent"))
    ws = await staff.ws_connect(LIVE, headers=stack.origin())
    first = await ws.receive_json(timeout=10)
    assert first["type"] == "call"
    polled = await (await staff.get(f"/api/admin/staff/calls/{CALL}")).json()
    assert first["call"] == polled  # one shape: the page renders the socket's state as it renders a poll
    assert [s["text"] for s in first["call"]["transcript"]] == ["您好，12345"]

    await stack.say(segment(1, "我叫张伟，手机13812345678，想问结婚登记需要带什么材料"))
    skipped: list[str] = []
    line = await frame_of(ws, "transcript", skipped)
    assert line["call_id"] == CALL and line["line"]["seq"] == 1 and line["line"]["speaker"] == "caller"
    assert line["line"]["is_final"] is True
    assert "〔手机号〕" in line["line"]["text"]
    assert "13812345678" not in line["line"]["text"] and "张伟" not in line["line"]["text"]
    polled = await (await staff.get(f"/api/admin/staff/calls/{CALL}")).json()
    assert line["line"] in polled["transcript"]  # masked by the same rule as the GET
    suggestions = await frame_of(ws, "suggestions", skipped)
    assert suggestions["seq"] == 1 and suggestions["is_final"] is True
    assert "SF-G-001" in [s["doc_id"] for s in suggestions["suggestions"]]

    await stack.say(segment(2, "我的办件编号是HD202610120003，办到哪一步了"))
    offer = await frame_of(ws, "status_offer", skipped)
    assert offer["app_no"] == "HD202610120003"

    ended = await stack.asr.post(f"/api/hotline/calls/{CALL}/end", headers=stack.bearer)
    assert ended.status == 200
    order = await frame_of(ws, "order", skipped)
    assert order["order"]["call_id"] == CALL and "13812345678" not in str(order)
    assert set(skipped) <= {"transcript", "suggestions"}, skipped
    await ws.close()


async def test_the_call_centre_sockets_get_no_transcript_frames(stack: Stack) -> None:
    """The transcript frames are the staff socket's alone: the hotline's own sockets are unchanged."""
    await stack.say(segment(0, "您好，12345", "agent"))
    agent = await stack.asr.ws_connect(f"/api/hotline/calls/{CALL}/live", headers=stack.bearer)
    assert (await agent.receive_json(timeout=10))["type"] == "suggestions"
    staff = await stack.clients["staff1"].ws_connect(LIVE, headers=stack.origin())
    assert (await staff.receive_json(timeout=10))["type"] == "call"
    await stack.say(segment(1, "想问结婚登记需要带什么材料"))
    skipped: list[str] = []
    await frame_of(staff, "suggestions", skipped)
    assert "transcript" in skipped
    frame = await agent.receive_json(timeout=30)
    assert frame["type"] == "suggestions", frame  # no transcript frame before it
    await agent.close()
    await staff.close()


async def status_of(client: TestClient, path: str, headers: dict[str, str]) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(path, headers=headers)
    return refused.value.status


async def test_a_stranger_the_wrong_role_and_another_origin_are_refused(stack: Stack) -> None:
    await stack.say(segment(0, "您好，12345", "agent"))
    origin = stack.origin()
    assert await status_of(stack.clients["nobody"], LIVE, origin) == 401
    assert await status_of(stack.asr, LIVE, {**origin, **stack.bearer}) == 401  # a token: no session
    assert await status_of(stack.clients["reviewer1"], LIVE, origin) == 403
    staff = stack.clients["staff1"]
    assert await status_of(staff, LIVE, {"Origin": "https://evil.example"}) == 403
    port = stack.asr.make_url("").port
    assert await status_of(staff, LIVE, {"Origin": f"http://127.0.0.1.evil.example:{port}"}) == 403
    assert await status_of(staff, LIVE, {"Origin": "null"}) == 403
    assert await status_of(staff, LIVE, {}) == 403  # browsers always send one: none is not a browser's page
    assert await status_of(staff, "/api/admin/staff/calls/nope/live", origin) == 404
    plain = await staff.get(LIVE, headers=origin)  # not an upgrade: a reason, not a crash
    assert plain.status == 400 and "WebSocket" in (await plain.json())["error"]


async def test_a_session_that_ends_closes_the_socket(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff_console, "SESSION_CHECK_SECONDS", 0.2)
    await stack.say(segment(0, "您好，12345", "agent"))
    staff = stack.clients["staff1"]
    ws = await staff.ws_connect(LIVE, headers=stack.origin())
    assert (await ws.receive_json(timeout=10))["type"] == "call"
    out = await staff.post("/admin/sign-out", data={"csrf": staff.csrf},  # type: ignore[attr-defined]
                           allow_redirects=False)
    assert out.status in (200, 303)
    message = await ws.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE and ws.close_code == staff_console.SESSION_GONE
