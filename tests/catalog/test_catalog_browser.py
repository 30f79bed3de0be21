"""The catalog in Chromium on a 360-px phone, keyboard-free but by role and label as a screen reader sees
it: browse by agency and topic, search by 文号 and by agency + date range, open a document and download its
JSON record and its text, reach the abolished list; no page scrolls sideways."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import catalog as records
from archive.store import Archive
from core.settings import Settings
from tests.catalog.conftest import fill
from tests.web.conftest import browser, context, page  # noqa: F401  (Chromium fixtures)
from tests.web.fakes import FakeChat, LiveServer, fake_app

pytestmark = pytest.mark.browser


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    archive = Archive(settings.paths.archive_db)
    fill(archive)
    archive.close()
    live = LiveServer(fake_app(settings, FakeChat())).start()
    yield live
    live.stop()


def _results(tab: Any) -> list[str]:
    found: list[str] = tab.locator(".cat-list h3").all_inner_texts()
    return found


def _fits(tab: Any) -> None:
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360


def test_browse_search_open_and_download(page: Any, server: LiveServer) -> None:  # noqa: F811
    tab = page
    tab.goto(server.url + "/catalog")
    tab.get_by_role("heading", name="政府信息公开目录 Government information catalog").wait_for()
    _fits(tab)
    browse = tab.get_by_role("navigation", name="目录导航 Browse")
    browse.get_by_role("link", name="示范市民政局").click()
    tab.get_by_role("heading", name="检索结果 Results").wait_for()
    assert _results(tab) == ["结婚登记", "临时补贴通知"]
    # the filter shows in the form
    assert tab.get_by_label("发文机关 Issuing agency").input_value() == "示范市民政局"
    tab.get_by_role("navigation", name="目录导航 Browse").get_by_role("link", name="公安").click()
    tab.get_by_role("heading", name="检索结果 Results").wait_for()
    assert _results(tab) == ["示范市居住证管理办法（2026年修订）", "示范市居住证管理办法"]
    _fits(tab)

    # combined search by 文号
    tab.get_by_role("link", name="清除 Clear").click()
    tab.get_by_label("文号 Document number").fill("示府规〔2019〕3号")
    tab.get_by_role("button", name="检索 Search").click()
    tab.get_by_role("heading", name="检索结果 Results").wait_for()
    assert _results(tab) == ["示范市居住证管理办法"]
    assert "共 1 件" in tab.get_by_role("status").inner_text()

    # by agency + date range
    tab.get_by_role("link", name="清除 Clear").click()
    tab.get_by_label("发文机关 Issuing agency").select_option("示范市人民政府")
    tab.get_by_label("起 From").fill("2026-01-01")
    tab.get_by_label("止 To").fill("2026-12-31")
    tab.get_by_role("button", name="检索 Search").click()
    tab.get_by_role("heading", name="检索结果 Results").wait_for()
    assert _results(tab) == ["示范市居住证管理办法（2026年修订）"]  # the 2019 one and the draft are not
    _fits(tab)

    # the document, its validity and its downloads
    tab.get_by_role("link", name="示范市居住证管理办法（2026年修订）").click()
    tab.get_by_role("heading", name="示范市居住证管理办法（2026年修订）", level=1).wait_for()
    assert "现行有效 current" in tab.locator(".cat-validity").inner_text()
    _fits(tab)
    with tab.expect_download() as got:
        tab.get_by_role("link", name="目录记录 Catalog record (JSON)").click()
    record = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    records.validate(record)
    assert record["doc_no"] == "示府规〔2026〕1号" and got.value.suggested_filename == "P-NEW.json"
    with tab.expect_download() as got:
        tab.get_by_role("link", name="纯文本 Plain text").click()
    text = Path(got.value.path()).read_text(encoding="utf-8")
    assert "第一条 居住证新办法全文。" in text

    # an abolished document names its replacement; the abolished list is one link away
    tab.goto(server.url + "/catalog/doc/P-OLD")
    assert "已废止 abolished" in tab.locator(".cat-validity").inner_text()
    tab.get_by_role("link", name="示范市居住证管理办法（2026年修订）").first.wait_for()
    tab.get_by_role("navigation", name="目录 Catalog").get_by_role(
        "link", name="已废止和失效的文件 Abolished and expired"
    ).click()
    tab.get_by_role("heading", name="已废止和失效的文件 Abolished and expired documents").wait_for()
    assert tab.get_by_role("heading", name="示范市居住证管理办法", exact=True).count() == 1
    assert tab.errors == []
