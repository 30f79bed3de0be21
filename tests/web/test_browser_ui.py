"""The page in a real browser (Debian Chromium, phone viewport) with a scripted dialogue behind the real app.

These are the pure-UI checks: rendering, safety, the offline queue, history, language and layout. The
answers that need the real dialogue (guides, status, abolished documents) are in test_browser_stack.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.keys import HISTORY
from core.settings import Settings
from tests.web.fakes import FakeChat, LiveServer, fake_app

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect


def open_chat(page: Any, server: LiveServer, state: str = "^已连接$") -> None:
    page.goto(server.url + "/")
    expect(page.get_by_role("status").filter(has_text=re.compile(state))).to_be_visible()


def ask(page: Any, text: str) -> None:
    page.get_by_role("textbox", name="输入您的问题").fill(text)
    page.get_by_role("button", name="发送").click()


def bot_turns(page: Any) -> Any:
    return page.get_by_role("log").locator(".turn.bot")


def test_guide_card_quick_reply_and_feedback(page: Any, fake_server: LiveServer, chat: FakeChat) -> None:
    open_chat(page, fake_server)
    ask(page, "办居住证要带什么")
    card = page.get_by_role("region", name="办事指南：居住证办理")
    expect(card).to_contain_text("居民身份证原件")
    expect(card).to_contain_text("10 个工作日")
    expect(card.get_by_role("link", name=re.compile("在线办理"))).to_have_attribute(
        "href", "https://zwfw.example.gov.cn/jzz"
    )
    sources = page.get_by_role("region", name="依据来源")
    expect(sources).to_contain_text("示公规〔2023〕5号")
    expect(sources).to_contain_text("示范市公安局")
    page.get_by_role("group", name="快捷回复").get_by_role("button", name="收费标准").tap()
    expect(bot_turns(page)).to_have_count(2)
    expect(bot_turns(page).nth(1)).to_contain_text("居住证办理免费。")
    expect(page.get_by_role("log").locator(".turn.user").nth(1)).to_have_text(re.compile("收费标准$"))
    assert chat.calls['/ask_guide{"aspect":"fees"}'] == 1
    page.get_by_role("group", name="这个回答有帮助吗？").first.get_by_role("button", name="有帮助").click()
    expect(page.get_by_text("感谢您的反馈")).to_be_visible()
    turns = fake_server.app[HISTORY].recent(next(iter(_sessions(fake_server))))
    assert [t.feedback for t in turns] == ["up", None]


def _sessions(server: LiveServer) -> set[str]:
    rows = server.app[HISTORY]._store.rows("SELECT DISTINCT session FROM history_turns")
    return {r[0] for r in rows}


def test_markup_is_shown_as_text_and_never_runs(page: Any, fake_server: LiveServer) -> None:
    open_chat(page, fake_server)
    attacks = ['<img src=x onerror="window.__xss=1">', "<script>window.__xss=2</script><b>粗体</b>"]
    for i, text in enumerate(attacks, 1):
        ask(page, text)
        expect(bot_turns(page)).to_have_count(i)
    log = page.get_by_role("log")
    for text in attacks:
        expect(log.get_by_text(text, exact=False).first).to_be_visible()
        expect(log.get_by_text("收到：" + text)).to_be_visible()
    assert log.locator("img, script, b").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.errors == []


def test_offline_message_is_queued_and_answered_exactly_once(
    page: Any, context: Any, fake_server: LiveServer, chat: FakeChat
) -> None:
    open_chat(page, fake_server)
    context.set_offline(True)
    expect(page.get_by_role("status").filter(has_text="网络已断开")).to_be_visible()
    ask(page, "离线时写的消息")
    expect(page.get_by_role("log").get_by_text("待发送")).to_be_visible()
    outbox = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('civic.outbox.'))")
    assert len(json.loads(page.evaluate(f"localStorage.getItem('{outbox[0]}')"))) == 1
    assert chat.calls["离线时写的消息"] == 0
    context.set_offline(False)
    expect(page.get_by_role("log").get_by_text("收到：离线时写的消息")).to_have_count(1)
    expect(page.get_by_role("log").get_by_text("待发送")).to_have_count(0)
    assert page.evaluate(f"localStorage.getItem('{outbox[0]}')") == "[]"
    page.reload()
    expect(page.get_by_role("log").get_by_text("收到：离线时写的消息")).to_have_count(1)
    assert chat.calls["离线时写的消息"] == 1


def test_socket_dropped_mid_answer_gives_one_reply(
    page: Any, fake_server: LiveServer, chat: FakeChat
) -> None:
    open_chat(page, fake_server)
    chat.delay = 1.5
    ask(page, "慢慢回答")
    expect(page.get_by_role("status").filter(has_text="助手正在输入")).to_be_visible()
    assert fake_server.close_sockets() == 1  # the answer is still being worked on
    expect(page.get_by_role("log").get_by_text("收到：慢慢回答")).to_have_count(1)
    expect(page.get_by_role("status").filter(has_text=re.compile("^已连接$"))).to_be_visible()
    page.wait_for_timeout(500)  # give a second copy the chance to show up, if one were coming
    expect(page.get_by_role("log").get_by_text("收到：慢慢回答")).to_have_count(1)
    assert chat.calls["慢慢回答"] == 1


def test_reload_restores_history_from_the_server(page: Any, fake_server: LiveServer) -> None:
    open_chat(page, fake_server)
    for i, text in enumerate(["第一个问题", "办居住证要带什么"], 1):
        ask(page, text)
        expect(bot_turns(page)).to_have_count(i)
    page.get_by_role("button", name="没帮助").first.click()
    expect(page.get_by_text("感谢您的反馈")).to_be_visible()
    page.evaluate("localStorage.removeItem('civic.lang')")  # only the session id is kept by the browser
    page.reload()
    log = page.get_by_role("log")
    expect(log.locator(".turn.user")).to_have_count(2)
    expect(log.locator(".turn.user").first).to_contain_text("第一个问题")
    expect(log.get_by_role("region", name="办事指南：居住证办理")).to_be_visible()
    expect(log.get_by_role("button", name="没帮助").first).to_have_attribute("aria-pressed", "true")


def test_english_switch_and_large_text(page: Any, fake_server: LiveServer) -> None:
    open_chat(page, fake_server)
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Civic Service Assistant")
    expect(page.get_by_role("textbox", name="Type your question")).to_be_visible()
    expect(page.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    page.get_by_role("button", name="Large text").click()
    expect(page.get_by_role("button", name="Large text")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") > size
    page.reload()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.get_by_role("button", name="切换到中文").click()
    expect(page.get_by_role("button", name="发送")).to_be_visible()


def test_phone_layout_limit_and_keyboard(page: Any, fake_server: LiveServer) -> None:
    open_chat(page, fake_server)
    page.keyboard.press("Tab")  # keyboard only: the skip link comes first and leads to the input
    expect(page.get_by_role("link", name="跳到输入框")).to_be_focused()
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="输入您的问题")
    expect(box).to_be_focused()
    page.keyboard.type("键盘提问")
    page.keyboard.press("Enter")  # Enter sends, Shift+Enter makes a new line
    expect(bot_turns(page)).to_have_count(1)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="发送")).to_be_focused()
    box.fill("长" * 501)
    expect(page.get_by_role("alert")).to_have_text(re.compile("已超出 1 字"))
    expect(page.get_by_role("button", name="发送")).to_be_disabled()
    box.fill("")
    ask(page, "办居住证" + "A" * 120)  # a long unbroken word must wrap, not widen the page
    expect(bot_turns(page)).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("document.body.scrollWidth") <= 360
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a.go')]
            .filter(b => b.offsetParent !== null)
            .map(b => [b.textContent || b.getAttribute('aria-label'), b.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44).map(([t]) => t)"""
    )
    assert small == []


def test_http_fallback_when_websockets_are_blocked(browser: Any, settings: Settings, chat: FakeChat) -> None:
    server = LiveServer(fake_app(settings, chat, block_ws=True)).start()
    ctx = browser.new_context(viewport={"width": 360, "height": 640})
    try:
        page = ctx.new_page()
        open_chat(page, server, state="备用通道")
        ask(page, "没有 WebSocket 也能问")
        expect(page.get_by_role("log").get_by_text("收到：没有 WebSocket 也能问")).to_have_count(1)
        assert chat.calls["没有 WebSocket 也能问"] == 1
        page.reload()
        expect(page.get_by_role("log").get_by_text("收到：没有 WebSocket 也能问")).to_have_count(1)
        ctx.set_offline(True)  # queued while offline, then sent one at a time, in order
        expect(page.get_by_role("status").filter(has_text="网络已断开")).to_be_visible()
        ask(page, "甲")
        ask(page, "乙")
        ctx.set_offline(False)
        expect(bot_turns(page)).to_have_count(3)
        expect(bot_turns(page).nth(1)).to_contain_text("收到：甲")
        expect(bot_turns(page).nth(2)).to_contain_text("收到：乙")
        assert (chat.calls["甲"], chat.calls["乙"]) == (1, 1)
    finally:
        ctx.close()
        server.stop()


CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.offsetParent === null || el.closest('.sr-only') || el.disabled) continue;
    const st = getComputedStyle(el);
    const a = lum(rgb(st.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 20)}"`;
    if (ratio < need) bad.push(`${what} ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(browser: Any, fake_server: LiveServer, scheme: str) -> None:
    ctx = browser.new_context(viewport={"width": 360, "height": 640}, color_scheme=scheme)
    try:
        page = ctx.new_page()
        open_chat(page, fake_server)
        for i, text in enumerate(["办居住证要带什么", "流动人口管理暂行办法"], 1):
            ask(page, text)
            expect(bot_turns(page)).to_have_count(i)
        page.get_by_role("textbox", name="输入您的问题").fill("长" * 501)  # the limit warning too
        for top in (0, 10_000):  # every part of the conversation, scrolled into view
            page.evaluate(f"document.getElementById('log').scrollTop = {top}")
            assert page.evaluate(CONTRAST_JS) == []
    finally:
        ctx.close()


def test_rate_limited_message_is_polite_and_resent(browser: Any, settings: Settings, chat: FakeChat) -> None:
    from connectors.ratelimit import Limit, RateLimiter

    limiter = RateLimiter(session_limit=Limit(burst=1, per_second=0.5), ip_limit=Limit(100, 10))
    server = LiveServer(fake_app(settings, chat, limiter)).start()
    ctx = browser.new_context(viewport={"width": 360, "height": 640})
    try:
        page = ctx.new_page()
        open_chat(page, server)
        ask(page, "第一条")
        expect(bot_turns(page)).to_have_count(1)
        ask(page, "第二条")
        expect(
            page.get_by_role("log").get_by_text(re.compile("您发送得有点快，请稍等 \\d+ 秒"))
        ).to_be_visible()
        expect(page.get_by_role("log").get_by_text("收到：第二条")).to_have_count(1)  # resent by itself
        assert chat.calls["第二条"] == 1
    finally:
        ctx.close()
        server.stop()
