"""A hand-over in Chromium, citizen and staff side by side, on the real app (demo corpus, the engine down so
the web chat answers from search — app/standby.py — which hands over on 「转人工」 as the dialogue does):
the citizen asks for a person → the chat says where they are in the queue → the conversation appears in the
staff console's queue → staff take it and reply → the citizen's page shows the reply as from 「人工客服 N号」
→ the citizen's next message reaches the staff page → staff give it back → the bot answers again."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from app.factory import create_app
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.app.fakes import FakeEngine
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def chat_server(admin_settings: Settings) -> Iterator[LiveServer]:
    settings = admin_settings.with_overrides(embedding_model="none")
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as archive:
        seed_demo(archive)
    server = LiveServer(create_app(settings, engine=FakeEngine(up=False))).start()
    yield server
    server.stop()


def test_citizen_to_staff_and_back_to_the_bot(page: Any, context: Any, chat_server: LiveServer) -> None:
    url = chat_server.url
    chat = context.new_page()
    chat.goto(url + "/")
    expect(chat.get_by_role("status").filter(has_text="已连接")).to_be_visible(timeout=15_000)
    bot_turns = chat.get_by_role("log").locator(".turn.bot")
    chat.get_by_role("button", name="转人工").click()
    expect(bot_turns).to_have_count(1, timeout=20_000)  # the hand-over's own answer
    queue_line = chat.get_by_role("status").filter(has_text="排在第 1 位")
    expect(queue_line).to_be_visible(timeout=10_000)

    # staff see it in the queue and take it
    sign_in(page, chat_server, "staff1")
    page.get_by_role("navigation").get_by_role("link", name="坐席 Staff console").click()
    page.get_by_role("heading", name="转人工队列 Hand-over queue").wait_for()
    ticket = page.get_by_role("link", name=re.compile(r"^H\d{12}$"))
    expect(ticket).to_have_count(1, timeout=5_000)
    expect(page.get_by_text("第 1 位 waiting #1")).to_be_visible()
    ticket.click()
    page.get_by_role("button", name="接入 Take").click()
    reply_box = page.get_by_label("回复市民")
    expect(reply_box).to_be_visible()
    label = re.search(r"人工客服 \d+号", page.get_by_role("status").first.inner_text())
    assert label, "the holder line names the staff member's number"

    # the citizen is told who has them; the staff reply reaches the open chat at once
    expect(chat.get_by_role("status").filter(has_text=label.group(0) + " 正在为您服务")).to_be_visible(
        timeout=5_000)
    reply_box.fill("您好，我是人工客服，请问需要办理什么业务？")
    page.get_by_role("button", name="发送 Send").click()
    person = chat.get_by_role("log").locator(".turn.staff")
    expect(person).to_have_count(1, timeout=3_000)
    expect(person).to_contain_text("您好，我是人工客服，请问需要办理什么业务？")
    expect(person).to_contain_text(label.group(0))

    page.set_viewport_size({"width": 1024, "height": 768})  # desktop first, usable at 1024 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024

    # the citizen's answer goes to the person (no bot answer), and shows on the staff page
    chat.get_by_role("textbox", name="输入您的问题").fill("我想问高龄津贴，我的手机13812345678")
    chat.get_by_role("button", name="发送").click()
    expect(chat.get_by_text("已转给人工客服")).to_be_visible(timeout=10_000)
    transcript = page.get_by_role("list").filter(has_text="高龄津贴")
    expect(transcript).to_contain_text("〔手机号〕", timeout=5_000)
    expect(transcript).not_to_contain_text("13812345678")
    assert bot_turns.count() == 1

    if os.environ.get("CIVIC_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["CIVIC_SCREENSHOTS"], "staff-handover.png"))
        chat.screenshot(path=os.path.join(os.environ["CIVIC_SCREENSHOTS"], "chat-handover.png"))

    # a reload keeps the person's reply in its place
    chat.reload()
    expect(chat.get_by_role("log").locator(".turn.staff")).to_have_count(1, timeout=10_000)

    # given back: the chat says so and the bot answers again
    page.get_by_role("button", name="交还智能助手 Give back to the bot").click()
    page.get_by_role("heading", name="转人工队列 Hand-over queue").wait_for()
    expect(page.get_by_text("没有等待的会话 Nobody is waiting.")).to_be_visible()
    expect(chat.get_by_text("人工服务已结束，智能助手继续为您服务。")).to_be_visible(timeout=5_000)
    before = bot_turns.count()
    chat.get_by_role("textbox", name="输入您的问题").fill("结婚登记要带什么材料")
    chat.get_by_role("button", name="发送").click()
    expect(bot_turns).to_have_count(before + 1, timeout=20_000)
    expect(bot_turns.nth(before)).not_to_contain_text("转给处理工单")


@pytest.fixture
def fallback_server(admin_settings: Settings) -> Iterator[LiveServer]:
    """The same app behind a proxy that refuses WebSockets: the chat runs on POST /api/webchat/message."""
    settings = admin_settings.with_overrides(embedding_model="none")
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as archive:
        seed_demo(archive)
    app = create_app(settings, engine=FakeEngine(up=False))

    @web.middleware
    async def no_websockets(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/ws":
            raise web.HTTPForbidden(text="WebSockets are blocked by the proxy")
        return await handler(request)

    app.middlewares.append(no_websockets)
    server = LiveServer(app).start()
    yield server
    server.stop()


def test_a_chat_on_the_http_fallback_still_hears_the_person(page: Any, context: Any,
                                                            fallback_server: LiveServer) -> None:
    chat = context.new_page()
    chat.goto(fallback_server.url + "/")
    expect(chat.get_by_role("status").filter(has_text="备用通道")).to_be_visible(timeout=15_000)
    chat.get_by_role("button", name="转人工").click()
    expect(chat.get_by_role("status").filter(has_text="排在第 1 位")).to_be_visible(timeout=20_000)

    sign_in(page, fallback_server, "staff1")
    page.goto(fallback_server.url + "/staff")
    page.get_by_role("link", name=re.compile(r"^H\d{12}$")).click()
    page.get_by_role("button", name="接入 Take").click()
    page.get_by_label("回复市民").fill("您好，这里是人工服务")
    page.get_by_role("button", name="发送 Send").click()
    # no socket to push to: saved for the chat to find
    expect(page.get_by_role("status").filter(has_text="市民当前不在线")).to_be_visible()
    person = chat.get_by_role("log").locator(".turn.staff")
    expect(person).to_contain_text("您好，这里是人工服务", timeout=8_000)  # the chat looks every 3 s
    expect(chat.get_by_role("status").filter(has_text="正在为您服务")).to_be_visible()
    page.get_by_role("button", name="交还智能助手 Give back to the bot").click()
    expect(chat.get_by_text("人工服务已结束，智能助手继续为您服务。")).to_be_visible(timeout=8_000)
    expect(person).to_have_count(1)
