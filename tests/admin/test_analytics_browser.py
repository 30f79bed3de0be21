"""The analytics page in Debian Chromium after real conversations through the web chat: three citizens (one
browser context each) talk to the real app — connector, history, feedback route, conversations store — with a
scripted dialogue (tests/web/fakes.py) that hands over and logs a fallback the way the bot does; an editor
then opens /admin/analytics on a 360-px phone and at 1280 px and finds exactly those numbers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.conversations import Conversations
from app.keys import AUDIT, CONVERSATIONS
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.web.conftest import PHONE
from tests.web.fakes import FakeChat, FakeReply, LiveServer, fake_app

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect


@dataclass
class ServiceChat(FakeChat):
    """FakeChat's guide answers, plus a hand-over and a fallback recorded in the app's conversations store."""

    conversations: Conversations | None = None

    async def handle(self, session: str, text: str, language: str | None = None, channel: str = "api",
                     capabilities: dict[str, Any] | None = None) -> FakeReply:
        store = self.conversations
        assert store is not None
        if "人工" in text:
            ticket = await asyncio.to_thread(store.handover, session, text, [])
            return FakeReply({"session": session, "handoff": True, "mode": "dialogue",
                              "intent": {"name": "request_human", "confidence": 0.97},
                              "messages": [{"text": f"已转人工，工单 {ticket.id}", "buttons": [],
                                            "card": None, "citations": []}]})
        if "护照" in text:
            await asyncio.to_thread(store.log, "fallback", session, text, {"answered": False})
            return FakeReply({"session": session, "handoff": False, "mode": "dialogue",
                              "intent": {"name": "nlu_fallback", "confidence": 0.3},
                              "messages": [{"text": "抱歉，我没有理解。", "buttons": [], "card": None,
                                            "citations": []}]})
        return await super().handle(session, text, language, channel, capabilities)


@pytest.fixture
def server(admin_settings: Settings) -> Iterator[LiveServer]:
    chat = ServiceChat()
    live = LiveServer(fake_app(admin_settings, chat)).start()
    chat.conversations = live.app[CONVERSATIONS]
    yield live
    live.stop()


def citizen(browser: Any, server: LiveServer) -> Any:
    ctx = browser.new_context(viewport=PHONE, has_touch=True, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.goto(server.url + "/")
    expect(page.get_by_role("status").filter(has_text=re.compile("^已连接$"))).to_be_visible()
    return page


def ask(page: Any, text: str, answers: int) -> None:
    page.get_by_role("textbox", name="输入您的问题").fill(text)
    page.get_by_role("button", name="发送").click()
    expect(page.get_by_role("log").locator(".turn.bot")).to_have_count(answers)


def rate(page: Any, button: str) -> None:
    page.get_by_role("group", name="这个回答有帮助吗？").first.get_by_role("button", name=button).click()
    expect(page.get_by_text("感谢您的反馈")).to_be_visible()


def converse(browser: Any, server: LiveServer) -> None:
    anna = citizen(browser, server)
    ask(anna, "办居住证要带什么", 1)
    rate(anna, "有帮助")
    ben = citizen(browser, server)
    ask(ben, "居住证在哪办", 1)
    rate(ben, "没帮助")
    cai = citizen(browser, server)
    ask(cai, "护照丢了怎么补办 13812345678", 1)
    ask(cai, "转人工", 2)
    for page in (anna, ben, cai):
        page.context.close()


def summary(page: Any) -> dict[str, str]:
    table = page.get_by_role("table", name="总览 Summary")
    rows = table.get_by_role("row").all()[1:]
    return {r.get_by_role("rowheader").inner_text(): r.get_by_role("cell").inner_text() for r in rows}


def test_the_page_shows_the_counts_of_the_conversations_the_test_had(browser: Any, page: Any,
                                                                     server: LiveServer) -> None:
    converse(browser, server)
    sign_in(page, server, "editor1")
    page.get_by_role("navigation", name="管理后台 Console").get_by_role("link", name="统计 Analytics").click()
    expect(page.get_by_role("heading", level=1, name="统计 Analytics")).to_be_visible()
    numbers = summary(page)
    assert numbers["会话 Conversations"] == "3"
    assert numbers["消息 Messages"] == "4"
    assert numbers["转人工 Hand-overs"] == "1"
    assert numbers["自助解决率 Containment"] == "66.7%"
    assert numbers["转人工率 Hand-over rate"] == "33.3%"
    assert (numbers["未理解 Fallbacks"], numbers["未答复 Unanswered"]) == ("1", "1")
    assert (numbers["有帮助 👍 Helpful"], numbers["没帮助 👎 Not helpful"]) == ("1", "1")
    assert numbers["满意度 Satisfaction"] == "50.0%"
    # the service both guide answers were about, with one thumb each way; the unanswered message masked
    services = page.get_by_role("table", name=re.compile("^热门事项 Top services"))
    expect(services.get_by_role("row", name=re.compile("guide-jzz"))).to_contain_text("居住证办理")
    link = services.get_by_role("link", name="guide-jzz")
    expect(link).to_have_attribute("href", "/admin/documents/guide-jzz")
    assert [c.inner_text() for c in services.get_by_role("row").nth(1).get_by_role("cell").all()][2:] == [
        "2", "1", "1", "50.0%"]
    unanswered = page.get_by_role("table", name=re.compile("^未答复的问题"))
    expect(unanswered).to_contain_text("护照丢了怎么补办 〔手机号〕")
    assert "13812345678" not in page.content()
    # the charts are named images; at 360 px nothing but the tables' own scroll boxes is wider than the phone
    expect(page.get_by_role("img", name="每日会话与消息 Conversations and messages per day")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    width = page.get_by_role("img", name=re.compile("^每日会话")).bounding_box()["width"]
    assert 300 <= width <= PHONE["width"]
    # the filter is a plain GET form: by keyboard, WeChat only -> nothing counted; back to the web chat
    page.get_by_label("渠道 Channel").select_option("wechat")
    page.get_by_label("渠道 Channel").press("Tab")  # the next stop is the Apply button
    expect(page.get_by_role("button", name="筛选 Apply")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"channel=wechat"))
    assert summary(page)["会话 Conversations"] == "0"
    page.get_by_label("渠道 Channel").select_option("web")
    page.get_by_role("button", name="筛选 Apply").click()
    expect(page).to_have_url(re.compile(r"channel=web"))
    assert summary(page)["会话 Conversations"] == "3"
    # a table's CSV is a download, UTF-8 with the BOM
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("^导出 CSV：按渠道")).click()
    data = open(info.value.path(), "rb").read()  # noqa: SIM115
    assert data.startswith(b"\xef\xbb\xbf") and "web,3,4,2,66.7" in data.decode("utf-8-sig")
    [export] = server.app[AUDIT].query(action="analytics_export")
    assert (export.actor, export.role, export.target) == ("editor1", "editor", "channels")
    assert page.errors == []


def test_the_page_at_1280_px(browser: Any, server: LiveServer) -> None:
    converse(browser, server)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(len(r.body())) if "/admin/analytics" in r.url else None)
    sign_in(page, server, "reviewer1")
    page.goto(server.url + "/admin/analytics")
    assert summary(page)["会话 Conversations"] == "3"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    chart = page.get_by_role("img", name=re.compile("^每日会话")).bounding_box()
    assert 400 <= chart["width"] <= 700  # kept to a readable size, not stretched across the screen
    assert sizes and max(sizes) < 150_000  # the whole page (SVG charts inline) is small
    # the curation link is for editors only
    expect(page.get_by_role("link", name="去训练 To curation")).to_have_count(0)
    ctx.close()
