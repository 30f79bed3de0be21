"""The web chat against the real stack: `civic serve` (Rasa engine, actions, retrieval) on the demo corpus.

Expected facts come from the demo corpus files themselves (archive/demo/*.jsonl), not from the test.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from core.settings import REPO_ROOT
from tests.web.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.engine]
expect: Any = pytest.importorskip("playwright.sync_api").expect
DEMO = REPO_ROOT / "archive" / "demo"


def demo(name: str, key: str, value: str) -> dict[str, Any]:
    for line in (DEMO / name).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get(key) == value:
            return dict(record)
    raise LookupError(f"{key}={value} not in {name}")


@pytest.fixture(scope="session")
def stack_url(request: pytest.FixtureRequest) -> str:
    """The real stack: ``running_stack``, or one already running at $CIVIC_TEST_STACK_URL (`make run`)."""
    url = os.environ.get("CIVIC_TEST_STACK_URL")
    if url:
        return url.rstrip("/") + "/"
    return str(request.getfixturevalue("running_stack").url)


@pytest.fixture
def stack_page(page: Any, stack_url: str) -> Any:
    page.goto(stack_url)
    expect(page.get_by_role("status").filter(has_text=re.compile("^已连接$"))).to_be_visible()
    return page


def ask(page: Any, text: str) -> None:
    page.get_by_role("textbox", name="输入您的问题").fill(text)
    page.get_by_role("button", name="发送").click()


def last_answer(page: Any, count: int) -> Any:
    turns = page.get_by_role("log").locator(".turn.bot")
    expect(turns).to_have_count(count, timeout=60_000)
    return turns.nth(count - 1)


def test_guide_question_shows_card_with_citation_and_quick_replies(stack_page: Any) -> None:
    guide = demo("guides.jsonl", "id", "SF-G-007")
    ask(stack_page, "办居住证要带什么材料")
    answer = last_answer(stack_page, 1)
    card = answer.get_by_role("region", name=f"办事指南：{guide['title']}")
    expect(card).to_be_visible()
    for material in guide["materials"][:2]:
        expect(card.get_by_role("listitem").filter(has_text=material).first).to_be_visible()
    sources = answer.get_by_role("region", name="依据来源")
    expect(sources.get_by_role("link", name=guide["title"])).to_be_visible()
    expect(sources).to_contain_text(guide["issuer"])
    if guide.get("doc_no"):
        expect(sources).to_contain_text(guide["doc_no"])
    fees = answer.get_by_role("group", name="快捷回复").get_by_role(
        "button", name=re.compile("收费|费用|多少钱")
    )
    fees.first.tap()
    follow_up = last_answer(stack_page, 2)
    expect(follow_up).to_contain_text(guide["fees"][:8])
    expect(follow_up.get_by_role("region", name="依据来源")).to_contain_text(guide["title"])


def test_status_flow_with_verification(stack_page: Any) -> None:
    app = demo("applications.jsonl", "app_no", "HD202610120003")
    ask(stack_page, "我想查一下办件进度")
    last_answer(stack_page, 1)
    ask(stack_page, app["app_no"])
    last_answer(stack_page, 2)
    wrong = "0000" if app["phone_last4"] != "0000" else "1111"
    ask(stack_page, wrong)
    refused = last_answer(stack_page, 3)
    expect(refused.get_by_role("region", name=re.compile("办件进度"))).to_have_count(0)
    ask(stack_page, app["phone_last4"])
    result = last_answer(stack_page, 4)
    card = result.get_by_role("region", name=f"办件进度：{app['app_no']}")
    expect(card).to_be_visible()
    expect(card).to_contain_text(app["applicant"])
    expect(card).to_contain_text(app["history"][-1]["step"])
    stack_page.reload()  # the phone digits were never stored in the clear
    expect(stack_page.get_by_role("log").get_by_text(app["phone_last4"], exact=True)).to_have_count(0)
    expect(
        stack_page.get_by_role("log").get_by_role("region", name=f"办件进度：{app['app_no']}")
    ).to_be_visible()


def test_abolished_document_is_labelled(stack_page: Any) -> None:
    old = demo("policies.jsonl", "id", "SF-P-001")
    new = demo("policies.jsonl", "id", old["replaced_by"])
    ask(stack_page, f"{old['doc_no']}还有效吗")
    answer = last_answer(stack_page, 1)
    sources = answer.get_by_role("region", name="依据来源").first
    abolished = sources.get_by_role("listitem").filter(has_text=old["doc_no"])
    expect(abolished.get_by_text("⚠ 已废止")).to_be_visible()
    expect(sources).to_contain_text(new["doc_no"])


def test_human_button_hands_over(stack_page: Any) -> None:
    stack_page.get_by_role("button", name="转人工").click()
    answer = last_answer(stack_page, 1)
    expect(answer.get_by_role("paragraph").first).not_to_be_empty()
    expect(stack_page.get_by_role("log").get_by_text("已转人工服务")).to_be_visible()
    expect(stack_page.get_by_role("log").locator(".turn.user").first).to_have_text(re.compile("转人工$"))


@pytest.mark.skipif(
    os.environ.get("CIVIC_SCREENSHOT") != "1",
    reason="set CIVIC_SCREENSHOT=1 to regenerate docs/screenshot-guide-answer.png",
)
def test_screenshot_after_a_guide_answer(browser: Any, stack_url: str) -> None:
    """Regenerates the README's screenshot: a 360-px-wide phone after a guide answer."""
    tall_phone = {"width": PHONE["width"], "height": 800}  # 360x800: room for the card, sources and buttons
    ctx = browser.new_context(
        viewport=tall_phone, device_scale_factor=2, locale="zh-CN", color_scheme="light"
    )
    try:
        page = ctx.new_page()
        page.goto(stack_url)
        expect(page.get_by_role("status").filter(has_text=re.compile("^已连接$"))).to_be_visible()
        ask(page, os.environ.get("CIVIC_SCREENSHOT_QUESTION", "办居住证要带什么材料"))
        last_answer(page, 1)
        page.get_by_role("textbox", name="输入您的问题").blur()
        out = REPO_ROOT / "docs" / "screenshot-guide-answer.png"
        page.screenshot(path=str(out))
        assert out.stat().st_size > 10_000
    finally:
        ctx.close()
