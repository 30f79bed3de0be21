"""A live call in Chromium: a simulated call driven over the hotline WebSocket (the call centre's side, with
its token) → the agent, signed in with a staff session, opens it from the console → suggestions appear and
update as the caller talks → the agent pins one → the call ends → the drafted work order is prefilled, its
transcript masked → the agent edits and submits it → a local webhook receiver gets it exactly once.

The app is the real one with the demo corpus and its lexical index (the encoder's path is covered by
tests/retrieval and bench/HOTLINE.md)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app.factory import create_app
from app.workorder import verify_signature
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.app.fakes import FakeEngine
from tests.hotline.conftest import add_token
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect

SECRET = "staff-browser-webhook-secret"
CALL = "2026-12-01-0042"


class Receiver:
    """The city's work-order system: checks the signature, keeps every delivery it accepts."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert verify_signature(SECRET, request.headers["X-Civic-Signature"], body)
        self.received.append({"delivery": request.headers["X-Civic-Delivery"], "order": json.loads(body)})
        return web.json_response({"ok": True})


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, LiveServer]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = LiveServer(app).start()
    yield hook, server
    server.stop()


@pytest.fixture
def call_server(admin_settings: Settings, receiver: tuple[Receiver, LiveServer]) -> Iterator[LiveServer]:
    settings = admin_settings.with_overrides(embedding_model="none",
                                             hotline_webhook_url=receiver[1].url + "/hook",
                                             hotline_webhook_secret=SECRET)
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as archive:
        seed_demo(archive)
    server = LiveServer(create_app(settings, engine=FakeEngine())).start()
    yield server
    server.stop()


class Stream:
    """The call centre's speech-to-text side: one hotline WebSocket, driven from the server's loop."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server = server

        async def open_it() -> tuple[aiohttp.ClientSession, Any]:
            session = aiohttp.ClientSession()
            ws = await session.ws_connect(server.url + "/api/hotline/stream",
                                          headers={"Authorization": f"Bearer {token}"})
            return session, ws

        self.session, self.ws = server.run(open_it())
        self.seq = 0

    def send(self, frame: dict[str, Any]) -> dict[str, Any]:
        async def send_and_ack() -> dict[str, Any]:
            await self.ws.send_json(frame)
            while True:
                reply: dict[str, Any] = await self.ws.receive_json(timeout=10)
                if reply.get("type") in ("ack", "error"):
                    return reply

        ack = self.server.run(send_and_ack())
        assert ack["type"] == "ack", ack
        return ack

    def say(self, text: str, speaker: str = "caller") -> None:
        self.seq += 1
        self.send({"type": "segment", "call_id": CALL, "seq": self.seq, "speaker": speaker, "text": text,
                   "is_final": True, "start_ms": self.seq * 3000, "end_ms": self.seq * 3000 + 2500})

    def close(self) -> None:
        async def close_it() -> None:
            await self.ws.close()
            await self.session.close()

        self.server.run(close_it())


def test_a_call_from_suggestions_to_a_delivered_order(page: Any, call_server: LiveServer,
                                                     admin_settings: Settings,
                                                     receiver: tuple[Receiver, LiveServer]) -> None:
    hook, _ = receiver
    stream = Stream(call_server, add_token(admin_settings, "asr-gateway"))
    stream.send({"type": "start", "call_id": CALL, "line": "12345", "suggestions": False})
    stream.say("您好，这里是12345热线", "agent")
    stream.say("你好，我叫张伟，手机13812345678，我想问一下结婚登记需要带什么材料")

    sign_in(page, call_server, "staff1")
    page.goto(call_server.url + "/staff")
    page.get_by_role("link", name=CALL).click()
    page.get_by_role("heading", name=f"通话 Call {CALL}").wait_for()
    transcript = page.get_by_role("list").filter(has_text="来电人 Caller")
    expect(transcript).to_contain_text("〔手机号〕")
    expect(transcript).not_to_contain_text("13812345678")
    expect(transcript).not_to_contain_text("张伟")
    suggestions = page.locator("#suggestions")
    expect(suggestions.get_by_role("heading", name="结婚登记", exact=True)).to_be_visible(timeout=10_000)

    # the agent pins the marriage guide (keyboard: focus and Enter)
    pin = page.get_by_role("button", name="固定 Pin: 结婚登记", exact=True)
    pin.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="已固定 Pinned: 结婚登记")).to_be_visible()

    # the caller moves on: the list updates while they talk, the pinned guide stays
    stream.say("还有一个事，我租房住，想提取住房公积金付房租，租房提取公积金怎么办")
    expect(suggestions.get_by_role("heading", name="住房公积金提取（租房）")).to_be_visible(timeout=10_000)
    expect(suggestions.get_by_role("heading", name="结婚登记", exact=True)).to_be_visible()
    dismiss = page.get_by_role("button", name="忽略 Dismiss: 住房公积金提取（租房）")
    dismiss.click()
    expect(suggestions.get_by_role("heading", name="住房公积金提取（租房）")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="已忽略 Dismissed")).to_be_visible()

    stream.say("好的，谢谢，就这些", "caller")
    stream.send({"type": "end", "call_id": CALL})

    # the drafted order, prefilled and masked
    expect(page.get_by_role("heading", name="工单 Work order")).to_be_visible(timeout=10_000)
    summary = page.get_by_label("摘要 Summary")
    expect(summary).not_to_have_value("")
    assert "13812345678" not in summary.input_value()
    expect(page.locator("#o-documents")).to_have_text("结婚登记")
    order_transcript = page.locator("#o-transcript")
    expect(order_transcript).to_contain_text("〔手机号〕")
    expect(order_transcript).not_to_contain_text("13812345678")
    expect(page.get_by_label("承办部门 Department")).not_to_have_value("")

    # desktop first, usable at 1024 px: nothing scrolls sideways
    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    if os.environ.get("CIVIC_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["CIVIC_SCREENSHOTS"], "staff-call.png"), full_page=True)

    # edited and submitted
    summary.fill("市民咨询结婚登记所需材料和租房提取公积金，电话13812345678")
    page.get_by_label("分类 Category").select_option("政务")
    page.get_by_label("类型 Kind").select_option("咨询")
    page.get_by_role("button", name="提交工单 Submit the order").click()
    expect(page.get_by_role("status").filter(has_text="已提交 Submitted")).to_be_visible()
    expect(page.get_by_role("button", name="提交工单 Submit the order")).to_be_disabled()

    deadline = time.monotonic() + 15
    while not hook.received and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.5)  # long enough for a second delivery (the outbox polls every second) to show up
    assert len(hook.received) == 1, hook.received
    order = hook.received[0]["order"]
    assert hook.received[0]["delivery"] == order["order_id"]
    assert order["call_id"] == CALL and order["status"] == "submitted"
    assert order["category"] == "政务" and order["kind"] == "咨询"
    assert order["summary"] == "市民咨询结婚登记所需材料和租房提取公积金，电话〔手机号〕"
    assert order["documents"] == [{"doc_id": "SF-G-001", "title": "结婚登记"}]
    assert order["submitted_by"] == "staff:staff1"
    assert "13812345678" not in json.dumps(order, ensure_ascii=False)
    stream.close()


def call_polls(requests: list[str], server: LiveServer) -> list[str]:
    """The polling GETs of the call's JSON among ``requests`` (not its socket, pin, status or order)."""
    return [url for url in requests if url.split("?")[0] == f"{server.url}/api/admin/staff/calls/{CALL}"]


def test_the_call_page_is_pushed_over_its_socket_without_polling(page: Any, call_server: LiveServer,
                                                                 admin_settings: Settings) -> None:
    stream = Stream(call_server, add_token(admin_settings, "asr-gateway"))
    stream.send({"type": "start", "call_id": CALL, "line": "12345", "suggestions": False})
    stream.say("您好，这里是12345热线", "agent")
    sign_in(page, call_server, "staff1")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(call_server.url + f"/staff/calls/{CALL}")
    status = page.get_by_role("status").filter(has_text="实时 Live")
    expect(status).to_be_visible(timeout=10_000)
    expect(status).to_have_attribute("aria-live", "polite")
    requests.clear()  # from here on the socket alone brings the call

    stream.say("你好，我叫张伟，手机13812345678，我想问一下结婚登记需要带什么材料")
    suggestions = page.locator("#suggestions")
    expect(suggestions.get_by_role("heading", name="结婚登记", exact=True)).to_be_visible(timeout=10_000)
    transcript = page.get_by_role("list").filter(has_text="来电人 Caller")
    expect(transcript).to_contain_text("〔手机号〕")
    expect(transcript).not_to_contain_text("13812345678")
    stream.say("还有一个事，我租房住，租房提取公积金怎么办")
    expect(suggestions.get_by_role("heading", name="住房公积金提取（租房）")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1500)  # three polling periods: a poll would have shown by now
    assert call_polls(requests, call_server) == [], requests
    expect(status).to_be_visible()

    stream.send({"type": "end", "call_id": CALL})
    expect(page.get_by_role("heading", name="工单 Work order")).to_be_visible(timeout=10_000)
    assert call_polls(requests, call_server) == [], requests
    stream.close()


def test_without_its_socket_the_call_page_polls_and_keeps_retrying(page: Any, call_server: LiveServer,
                                                                  admin_settings: Settings) -> None:
    stream = Stream(call_server, add_token(admin_settings, "asr-gateway"))
    stream.send({"type": "start", "call_id": CALL, "line": "12345", "suggestions": False})
    sign_in(page, call_server, "staff1")
    attempts: list[str] = []

    def refuse(ws: Any) -> None:  # the network in between drops every WebSocket
        attempts.append(ws.url)
        ws.close()

    page.route_web_socket(f"**/api/admin/staff/calls/{CALL}/live", refuse)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(call_server.url + f"/staff/calls/{CALL}")
    expect(page.get_by_role("status").filter(has_text="轮询 Polling")).to_be_visible(timeout=10_000)
    stream.say("你好，我想问一下结婚登记需要带什么材料")
    suggestions = page.locator("#suggestions")
    expect(suggestions.get_by_role("heading", name="结婚登记", exact=True)).to_be_visible(timeout=10_000)
    assert call_polls(requests, call_server)  # they came by polling
    deadline = time.monotonic() + 10
    while len(attempts) < 3 and time.monotonic() < deadline:  # retried: after ~1 s, then ~2 s
        page.wait_for_timeout(200)
    assert len(attempts) >= 3, attempts
    stream.close()
