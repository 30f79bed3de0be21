"""The console and the citizen's chat together, in Chromium: what reviewers approve reaches the web chat
within 5 s, and what editors abolish is labelled there and listed on the public page.

The app is the real one with the demo corpus, the live index (lexical; the encoder's path is covered by
tests/retrieval) and the engine down, so the web chat answers from search (app/standby.py) — the same
citations the dialogue shows. The audit log must hold a row for every step the people took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.factory import create_app
from app.keys import AUDIT
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.app.fakes import FakeEngine
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect

ID_NUMBER = "11010519491231002X"  # check digit valid (GB 11643)
TITLE = "示范市高龄津贴发放办法（2026年修订）"
DOC_NO = "示民规〔2026〕4号"


@pytest.fixture
def chat_server(admin_settings: Settings) -> Iterator[LiveServer]:
    settings = admin_settings.with_overrides(embedding_model="none", index_watch_seconds=0.5)
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as archive:
        seed_demo(archive)
    server = LiveServer(create_app(settings, engine=FakeEngine(up=False))).start()
    yield server
    server.stop()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="退出 Sign out").click()
    page.get_by_role("heading", name="登录 Sign in").wait_for()


def ask(chat: Any, text: str) -> Any:
    """Send ``text`` in the web chat; the bot's answer to it."""
    before = chat.get_by_role("log").locator(".turn.bot").count()
    chat.get_by_role("textbox", name="输入您的问题").fill(text)
    chat.get_by_role("button", name="发送").click()
    turns = chat.get_by_role("log").locator(".turn.bot")
    expect(turns).to_have_count(before + 1, timeout=20_000)
    return turns.nth(before)


def test_approved_reaches_the_chat_and_abolished_is_labelled_and_public(
        page: Any, context: Any, chat_server: LiveServer) -> None:
    url = chat_server.url
    # an editor writes the revised rules as a draft, with an applicant's ID number left in
    sign_in(page, chat_server, "editor1")
    page.goto(url + "/admin/documents/new")
    page.get_by_label("编号 ID").fill("SF-P-107")
    page.get_by_label("类型 Type").select_option("policy")
    page.get_by_label("名称 Title").fill(TITLE)
    page.get_by_label("文号 Document number").fill(DOC_NO)
    page.get_by_label("发文机关 Issuing agency").fill("示范市民政局")
    page.get_by_label("发文日期 Issued on").fill("2026-11-20")
    page.get_by_label("正文 Body").fill(
        f"第一条 年满八十周岁的本市户籍老年人按月领取高龄津贴。示例申请人身份证号{ID_NUMBER}。\n"
        "第二条 高龄津贴由户籍所在地街道办事处受理，每月发放。")
    page.get_by_role("button", name="保存草稿 Save draft").click()
    page.get_by_role("button", name="提交审核 Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="已提交审核")).to_be_visible()
    sign_out(page)

    # the reviewer sees the ID number highlighted and sends the draft back
    sign_in(page, chat_server, "reviewer1")
    page.goto(url + "/admin/review/SF-P-107")
    expect(page.locator("mark").filter(has_text=ID_NUMBER)).to_be_visible()
    page.get_by_label("退回理由 Reason for rejecting").fill("删去身份证号")
    page.get_by_role("button", name="退回修改 Reject").click()
    expect(page.get_by_role("status").filter(has_text="已退回草稿")).to_be_visible()
    sign_out(page)

    # the editor removes it and submits again
    sign_in(page, chat_server, "editor1")
    page.goto(url + "/admin/documents/SF-P-107/edit")
    page.get_by_label("正文 Body").fill(
        "第一条 年满八十周岁的本市户籍老年人按月领取高龄津贴。\n"
        "第二条 高龄津贴由户籍所在地街道办事处受理，每月发放。")
    page.get_by_role("button", name="保存新版本 Save a new version").click()
    page.get_by_role("button", name="提交审核 Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="已提交审核")).to_be_visible()
    sign_out(page)

    # a second reviewer approves: published
    sign_in(page, chat_server, "reviewer2")
    page.goto(url + "/admin/review/SF-P-107")
    expect(page.locator("mark").filter(has_text=ID_NUMBER)).to_have_count(0)
    for box in page.get_by_role("checkbox").all():  # whatever the checks still note, acknowledged
        box.check()
    page.get_by_role("button", name="批准并发布 Approve and publish").click()
    expect(page.get_by_role("status").filter(has_text="已通过并发布")).to_be_visible()
    approved_at = time.monotonic()

    # a citizen on a phone asks, and the new rules are cited within 5 s of the approval
    chat = context.new_page()
    chat.goto(url + "/")
    cited = False
    while not cited and time.monotonic() - approved_at < 5:
        answer = ask(chat, "高龄津贴2026年修订办法")
        cited = answer.get_by_role("region", name="依据来源").filter(has_text=DOC_NO).count() > 0
    assert cited, "the approved document was not cited within 5 s"
    sign_out(page)

    # the editor abolishes the old rules, with the revised ones as the replacement
    sign_in(page, chat_server, "editor1")
    page.goto(url + "/admin/documents/SF-P-007")
    page.get_by_label("查找替代文件 Find a replacement document").fill("2026年修订")
    page.get_by_role("button", name="查找 Find").click()
    page.get_by_label("替代文件 Replaced by").select_option("SF-P-107")
    page.get_by_label("状态原因 Reason").fill("已被2026年修订版替代")
    page.get_by_role("button", name="废止 Abolish").click()
    expect(page.get_by_role("status").filter(has_text="已废止 abolished")).to_be_visible()
    abolished_at = time.monotonic()

    # the chat labels the old rules abolished and points to the new ones
    labelled = False
    while not labelled and time.monotonic() - abolished_at < 5:
        sources = ask(chat, "示民规〔2025〕2号还有效吗").get_by_role("region", name="依据来源").first
        old = sources.get_by_role("listitem").filter(has_text="示民规〔2025〕2号")
        labelled = old.count() > 0 and old.get_by_text("⚠ 已废止").count() > 0
    assert labelled, "the abolished document was not labelled in the chat within 5 s: " + sources.inner_text()
    expect(sources).to_contain_text(DOC_NO)

    # and the public clean-up list shows it, with the reason and the replacement, to anyone
    public = context.new_page()
    public.goto(url + "/public/abolished")
    entry = public.get_by_role("article", name="示范市高龄津贴发放办法", exact=True)
    expect(entry).to_contain_text("已被2026年修订版替代")
    expect(entry).to_contain_text(TITLE)
    expect(entry).to_contain_text(DOC_NO)

    # every step the people took is in the audit log
    steps = {(r.actor, r.action, r.target) for r in chat_server.app[AUDIT].query(limit=500)}
    for step in [("editor1", "document_create", "SF-P-107"), ("editor1", "review_submit", "SF-P-107"),
                 ("reviewer1", "review_reject", "SF-P-107"), ("editor1", "document_edit", "SF-P-107"),
                 ("reviewer2", "review_approve", "SF-P-107"), ("editor1", "document_abolished", "SF-P-007")]:
        assert step in steps, step
    signed = [r.actor for r in chat_server.app[AUDIT].query(action="sign_in", limit=50)]
    assert sorted(set(signed)) == ["editor1", "reviewer1", "reviewer2"]
    assert page.errors == []
