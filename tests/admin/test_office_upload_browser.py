"""A DOCX in the console, in Debian Chromium, by role and label (issue 17 part 3): an editor uploads it in the
documents console → it is a draft whose catalog elements, read out of its text, are flagged "extracted —
check" in review → a reviewer acknowledges them and approves → the public catalog page offers the original
file, and the downloaded bytes are the uploaded file's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from archive.models import Status
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import sign_in
from tests.archive.office_files import DOC_NO, ISSUER, TITLE, docx_bytes, write
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser
expect: Any = pytest.importorskip("playwright.sync_api").expect

DOC_ID = "居住证通知"


def test_upload_docx_review_extracted_download_original(page: Any, admin_server: LiveServer,
                                                        admin_settings: Settings, tmp_path: Path) -> None:
    data = docx_bytes()
    upload = write(tmp_path / f"{DOC_ID}.docx", data)

    sign_in(page, admin_server, "editor1")
    page.goto(admin_server.url + "/admin/documents/upload")
    page.get_by_label(re.compile("^文件 Files")).set_input_files(str(upload))
    page.get_by_role("button", name="导入 Import").click()
    expect(page.get_by_role("status")).to_contain_text("1 added")
    with Archive(admin_settings.paths.archive_db) as archive:
        doc = archive.get(DOC_ID)
    assert doc.status is Status.DRAFT and (doc.doc_no, doc.issuer, doc.title) == (DOC_NO, ISSUER, TITLE)

    page.goto(admin_server.url + f"/admin/documents/{quote(DOC_ID, safe='')}")
    page.get_by_role("button", name="提交审核 Submit for review").click()
    expect(page.get_by_role("status").filter(has_text="已提交审核")).to_be_visible()
    page.get_by_role("button", name="退出 Sign out").click()

    sign_in(page, admin_server, "reviewer1")
    page.goto(admin_server.url + f"/admin/review/{quote(DOC_ID, safe='')}")
    findings = page.get_by_role("region", name=re.compile("发现 Findings"))
    flagged = findings.get_by_role("listitem").filter(has_text="自动提取，请核对 Extracted — check")
    expect(flagged).to_have_count(4)  # title, 文号, issuer, date
    expect(findings).to_contain_text(f"「{DOC_NO}」")
    expect(findings).to_contain_text("extracted — check")
    boxes = findings.get_by_role("checkbox")
    for n in range(1, boxes.count() + 1):
        page.get_by_label(f"已确认第 {n} 项 Acknowledge finding {n}").check()
    page.get_by_role("button", name="批准并发布 Approve and publish").click()
    expect(page.get_by_role("status").filter(has_text="已通过并发布")).to_be_visible()

    page.goto(admin_server.url + f"/catalog/doc/{quote(DOC_ID, safe='')}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    with page.expect_download() as info:
        page.get_by_role("link", name="原始文件 Original file").click()
    download = info.value
    assert Path(download.path()).read_bytes() == data
    assert download.suggested_filename == f"{DOC_ID}.docx"
