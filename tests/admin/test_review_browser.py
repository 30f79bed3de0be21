"""Review before publishing in Debian Chromium on a 360-px phone, by role and label: an editor's draft with an
ID number is submitted from its document page, the reviewer sees the number highlighted and rejects it, the
editor fixes it in the edit form and submits again, another reviewer acknowledges the one finding left and
approves, and the document is published; the audit log holds each step."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.keys import AUDIT
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect

VALID_ID = "11010519491231002X"
BODY = f"申请人王小明，身份证号{VALID_ID}，可到示范市青湖区政务服务中心办理。办公电话 0799-86110000。"


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="退出 Sign out").click()
    page.get_by_role("heading", name="登录 Sign in").wait_for()


def waiting(page: Any) -> Any:
    return page.get_by_role("region", name=re.compile("待审核 Waiting for review"))


def test_flagged_rejected_fixed_approved_published(page: Any, admin_server: LiveServer,
                                                   admin_settings: Settings) -> None:
    with Archive(admin_settings.paths.archive_db) as archive:
        archive.upsert(Document(id="SF-F-900", title="居住证到期怎么续签", type=DocType.FAQ, body=BODY,
                                issuer="示范市公安局", status=Status.DRAFT))
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

    # the editor submits the draft from its document page
    sign_in(page, admin_server, "editor1")
    page.goto(admin_server.url + "/admin/documents/SF-F-900")
    page.get_by_role("button", name="提交审核 Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="已提交审核")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("居住证到期怎么续签")
    sign_out(page)

    # the reviewer finds it in the queue, sees the ID number highlighted, and rejects it
    sign_in(page, admin_server, "reviewer1")
    page.get_by_role("navigation", name="管理后台 Console").get_by_role("link", name="审核 Review").click()
    waiting(page).get_by_role("link", name="居住证到期怎么续签").click()
    mark = page.locator("mark").filter(has_text=VALID_ID)
    expect(mark).to_be_visible()
    expect(mark).to_contain_text("发现 Finding")  # its accessible text names the finding
    findings = page.get_by_role("region", name="发现 Findings (3)")
    expect(findings).to_be_visible()  # the name next to it, the ID number, the office landline
    expect(page.get_by_role("link", name=f"「{VALID_ID}」")).to_be_visible()
    page.get_by_label("退回理由 Reason for rejecting").fill("请删去申请人的姓名和身份证号")
    page.get_by_role("button", name="退回修改 Reject").click()
    expect(page.get_by_role("status").filter(has_text="已退回草稿")).to_be_visible()
    sign_out(page)

    # the editor reads the reason, removes the personal data and submits again
    sign_in(page, admin_server, "editor1")
    page.goto(admin_server.url + "/admin/review/SF-F-900")
    expect(page.get_by_role("status").filter(has_text="请删去申请人的姓名和身份证号")).to_be_visible()
    page.get_by_role("link", name="文件页面 Document page").click()
    page.get_by_role("link", name="编辑 Edit").click()
    fixed = "携带居民身份证到示范市青湖区政务服务中心办理。办公电话 0799-86110000。"
    page.get_by_label("正文 Body").fill(fixed)
    page.get_by_role("button", name="保存新版本 Save a new version").click()
    page.get_by_role("button", name="提交审核 Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="已提交审核")).to_be_visible()
    sign_out(page)

    # another reviewer: one finding left (the office landline), acknowledged, then approved
    sign_in(page, admin_server, "reviewer2")
    page.goto(admin_server.url + "/admin/review")
    waiting(page).get_by_role("link", name="居住证到期怎么续签").click()
    expect(page.locator("mark")).to_have_count(1)
    expect(page.locator("mark").filter(has_text=VALID_ID)).to_have_count(0)
    page.get_by_role("button", name="批准并发布 Approve and publish").click()
    expect(page.get_by_role("alert")).to_contain_text("every finding must be acknowledged")
    page.get_by_label("已确认第 1 项 Acknowledge finding 1").check()
    page.get_by_role("button", name="批准并发布 Approve and publish").click()
    expect(page.get_by_role("status").filter(has_text="已通过并发布")).to_be_visible()
    history = page.get_by_role("table", name=re.compile("Submissions and decisions, newest first"))
    expect(history).to_contain_text("已通过 approved")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    assert csp_errors == []
    with Archive(admin_settings.paths.archive_db) as archive:
        doc = archive.get("SF-F-900")
    assert doc.status == Status.PUBLISHED and VALID_ID not in doc.body
    actions = [(r.actor, r.action) for r in admin_server.app[AUDIT].query(target="SF-F-900")]
    for step in [("editor1", "review_submit"), ("reviewer1", "review_reject"), ("editor1", "document_edit"),
                 ("reviewer2", "review_approve")]:
        assert step in actions, (step, actions)
    assert actions.count(("editor1", "review_submit")) == 2
