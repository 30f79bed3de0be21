"""The documents pages in Debian Chromium on a 360-px phone, keyboard and labels only: an editor creates a
guide with materials, finds it in the list, edits it, reads the diff, and abolishes another document with a
replacement found by search."""

from __future__ import annotations

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


def test_an_editor_creates_edits_diffs_and_abolishes_on_a_phone(
        page: Any, admin_server: LiveServer, admin_settings: Settings) -> None:
    with Archive(admin_settings.paths.archive_db) as archive:
        archive.upsert(Document(id="SF-P-500", title="示范市临时救助办法", body="第一条 旧的办法。",
                                issuer="示范市民政局", doc_no="示民〔2020〕5号"))
        archive.upsert(Document(id="SF-P-501", title="示范市临时救助办法（2026年修订）",
                                body="第一条 新的办法。", issuer="示范市民政局", doc_no="示民〔2026〕1号"))
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    assert page.viewport_size == {"width": 360, "height": 640}
    sign_in(page, admin_server, "editor1")

    # create a guide with two materials, one per line
    page.goto(admin_server.url + "/admin/documents")
    page.get_by_role("link", name="新建文件 New document").click()
    page.get_by_label("编号 ID").fill("SF-G-777")
    page.get_by_label("类型 Type").select_option("guide")
    page.get_by_label("名称 Title").fill("残疾人证办理")
    page.get_by_label("正文 Body").fill("申请人持材料到户籍所在地残联办理。")
    page.get_by_label("办理材料 Materials").fill("居民身份证\n近期免冠照片两张")
    page.get_by_role("button", name="保存草稿 Save draft").click()
    expect(page.get_by_role("heading", level=1, name="残疾人证办理")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="草稿已保存")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="近期免冠照片两张")).to_be_visible()

    # find it in the list by a word of its title
    page.get_by_role("link", name="文件列表 All documents").click()
    page.get_by_label("关键词、文号或索引号").fill("残疾人证")
    page.get_by_label("关键词、文号或索引号").press("Enter")
    expect(page.get_by_role("status").filter(has_text="共 1 份")).to_be_visible()
    page.get_by_role("link", name="残疾人证办理").click()

    # edit it: a third material and a new body; the page then shows what changed, field by field
    page.get_by_role("link", name="编辑 Edit").click()
    page.get_by_label("办理材料 Materials").fill("居民身份证\n近期免冠照片两张\n残疾评定表")
    page.get_by_label("正文 Body").fill("申请人持材料到户籍所在地残联或网上办理。")
    page.get_by_role("button", name="保存新版本 Save a new version").click()
    diff = page.locator("section.doc-diff")
    expect(diff.get_by_role("heading", name="Changes from version 1 to 2")).to_be_visible()
    expect(diff.get_by_role("heading", name="办理材料 Materials")).to_be_visible()
    expect(diff.locator("ins").filter(has_text="残疾评定表")).to_be_visible()
    expect(diff.locator("ins").filter(has_text="或网上")).to_be_visible()
    expect(diff.get_by_text("新增 added:").first).to_be_attached()  # said in words, not colour alone

    # abolish the old rules, with the revised ones found by search as the replacement
    page.goto(admin_server.url + "/admin/documents?q=临时救助")
    page.get_by_role("link", name="示范市临时救助办法", exact=True).click()
    page.get_by_label("查找替代文件 Find a replacement document").fill("2026年修订")
    page.get_by_role("button", name="查找 Find").click()
    page.get_by_label("替代文件 Replaced by").select_option("SF-P-501")
    page.get_by_label("状态原因 Reason").fill("已被2026年修订版替代")
    page.get_by_role("button", name="废止 Abolish").click()
    expect(page.get_by_role("status").filter(has_text="已废止 abolished")).to_be_visible()
    expect(page.get_by_role("button", name="重新发布 Republish")).to_be_visible()
    expect(page.get_by_role("link", name="SF-P-501")).to_be_visible()

    # nothing overflows the phone's width, and no script or style was refused by the CSP
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    assert csp_errors == [] and page.errors == []
    with Archive(admin_settings.paths.archive_db) as archive:
        old = archive.get("SF-P-500")
        assert (old.status, old.replaced_by, old.status_reason) == (Status.ABOLISHED, "SF-P-501",
                                                                    "已被2026年修订版替代")
        guide = archive.get("SF-G-777")
        assert (guide.type, guide.status, guide.version) == (DocType.GUIDE, Status.DRAFT, 2)
        assert guide.materials == ["居民身份证", "近期免冠照片两张", "残疾评定表"]
    actions = [r.action for r in admin_server.app[AUDIT].query(actor="editor1")]
    assert {"document_create", "document_edit", "document_abolished"} <= set(actions)


def test_an_import_shows_its_line_by_line_report_in_place(page: Any, admin_server: LiveServer) -> None:
    sign_in(page, admin_server, "editor1")
    page.goto(admin_server.url + "/admin/documents/upload")
    lines = ('{"id": "U-1", "title": "导入的文件", "body": "正文", "status": "draft"}\n'
             '{"id": "U-2"}\nnot json\n')
    page.get_by_label("文件 Files").set_input_files(
        files=[{"name": "batch.jsonl", "mimeType": "application/x-ndjson", "buffer": lines.encode()}])
    page.get_by_role("button", name="导入 Import").click()
    report = page.get_by_role("heading", name="导入结果 Import report")
    expect(report).to_be_focused()  # the page's script put the report in place and moved focus to it
    expect(page.get_by_text("batch.jsonl (jsonl, utf-8, documents): 1 added, 0 changed, 0 unchanged, "
                            "2 rejected")).to_be_visible()
    expect(page.get_by_text("rejected batch.jsonl:2: missing_title [U-2]: title is missing or empty")
           ).to_be_visible()
    expect(page.get_by_text("rejected batch.jsonl:3: malformed")).to_be_visible()
    assert page.errors == []
