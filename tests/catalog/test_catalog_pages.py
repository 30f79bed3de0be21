"""The public catalog over HTTP: navigation counts, the combined search's filters and paging, drafts and
documents in review never shown, the document page, the downloads (JSON record, text, original file kept
in the home only), the Atom feed, the sitemap, page sizes and the security headers."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from aiohttp.test_utils import TestClient

from archive import catalog as records
from archive.models import Document, Status
from archive.store import Archive
from core.settings import Settings

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
HIDDEN = ("草稿：养犬管理办法", "审核中：停车收费通知", "示发改〔2026〕2号", "示府规〔2026〕9号")


async def _page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    html = await response.text()
    assert response.status == status, html[:500]
    return html


def _titles(html: str) -> list[str]:
    return re.findall(r'<h3 id="r-\d+"><a href="[^"]+">([^<]+)</a></h3>', html)


async def test_navigation_counts_and_filters(client: TestClient) -> None:
    html = await _page(client, "/catalog")
    assert '示范市人民政府</a> <span class="cat-count">（2<span class="sr"> 件 documents</span>）' in html
    assert '民政</a> <span class="cat-count">（2' in html and '公安</a> <span class="cat-count">（2' in html
    assert "价格" not in html and "发展和改革委员会" not in html  # only in a document under review
    for text in HIDDEN:
        assert text not in html
    assert _titles(html) == [
        "示范市居住证管理办法（2026年修订）",
        "结婚登记",
        "临时补贴通知",
        "示范市居住证管理办法",
    ]
    cases = {
        "?issuer=示范市民政局": ["结婚登记", "临时补贴通知"],
        "?topic=公安": ["示范市居住证管理办法（2026年修订）", "示范市居住证管理办法"],
        "?doc_no=〔2019〕3": ["示范市居住证管理办法"],
        "?index_no=11360799MB1B40105X/2025": ["结婚登记"],
        "?issuer=示范市人民政府&issued_from=2019-01-01&issued_to=2020-12-31": ["示范市居住证管理办法"],
        "?validity=abolished": ["示范市居住证管理办法"],
        "?validity=expired": ["临时补贴通知"],
        "?validity=current&type=guide": ["结婚登记"],
        "?q=居住证 新办法": ["示范市居住证管理办法（2026年修订）"],
        "?q=养犬": [],
        "?doc_no=示府规〔2026〕9号": [],
        "?topic=价格": [],  # the draft and the review one
        "?audience=法人&genre=通知": ["临时补贴通知"],
    }
    for query, expected in cases.items():
        assert _titles(await _page(client, "/catalog" + query)) == expected, query
    # a broken date is said on the page (400), not a server error
    html = await _page(client, "/catalog?issued_from=2024-13-01", 400)
    assert 'role="alert"' in html and "issued_from" in html
    assert 'name="status"' not in html  # the public search has no status filter: ?status=draft is ignored
    assert _titles(await _page(client, "/catalog?status=draft")) == _titles(await _page(client, "/catalog"))


async def test_paging_keeps_the_filters(client: TestClient, archive: Archive) -> None:
    for n in range(45):
        archive.upsert(
            Document(
                id=f"N-{n:02d}",
                title=f"批量通知第{n:02d}号",
                body="批量正文。",
                issuer="示范市财政局",
                issued_on=f"2023-01-{n % 28 + 1:02d}",
                topic="财政",
            )
        )
    first = await _page(client, "/catalog?issuer=示范市财政局")
    assert "共 45 件，第 1 / 3 页" in first and len(_titles(first)) == 20
    assert (
        'href="/catalog?issuer=%E7%A4%BA%E8%8C%83%E5%B8%82%E8%B4%A2%E6%94%BF%E5%B1%80&amp;page=2" rel="next"'
        in first
    )
    third = await _page(client, "/catalog?issuer=示范市财政局&page=3")
    assert len(_titles(third)) == 5 and 'rel="prev"' in third and 'rel="next"' not in third
    seen = (
        _titles(first) + _titles(await _page(client, "/catalog?issuer=示范市财政局&page=2")) + _titles(third)
    )
    assert len(set(seen)) == 45
    # the counts follow the change (the facet cache is keyed by the archive's latest change)
    assert '示范市财政局</a> <span class="cat-count">（45' in first


async def test_document_page_and_downloads(client: TestClient, archive: Archive) -> None:
    html = await _page(client, "/catalog/doc/P-OLD")
    assert "有效性 Validity：已废止 abolished" in html and "被2026年修订版替代" in html
    assert '替代文件 Replaced by：<a href="/catalog/doc/P-NEW">示范市居住证管理办法（2026年修订）</a>' in html
    for label in (
        "索引号 Index number",
        "发文机关 Issuing agency",
        "文号 Document number",
        "发文日期 Issued on",
        "关键词 Keywords",
        "内容概述 Summary",
        "有效期 Validity period",
        "主题分类 Topic",
        "体裁分类 Genre",
        "服务对象分类 Audience",
        "在线链接 URL",
    ):
        assert f"<dt>{label}</dt>" in html, label
    assert '<a href="/catalog/doc/P-OLD/v/1">1</a>' in html and "已发布 published" in html  # public history
    assert "原始文件" not in html  # imported from no kept file
    old = await _page(client, "/catalog/doc/P-OLD/v/1")
    assert "这是第 1 版" in old and "现行有效 current" in old
    guide = await _page(client, "/catalog/doc/G-1")
    assert "<li>近期半身免冠合影照片</li>" in guide and "示范市婚姻登记中心" in guide

    response = await client.get("/catalog/doc/P-NEW/record.json")
    assert response.status == 200 and response.content_type == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    record = json.loads(await response.text())
    records.validate(record)
    assert record == records.to_record(archive.get("P-NEW"))
    response = await client.get("/catalog/doc/P-NEW/text.txt")
    text = await response.text()
    assert response.content_type == "text/plain" and "文号 Document number: 示府规〔2026〕1号" in text
    assert text.startswith("示范市居住证管理办法（2026年修订）") and "第一条 居住证新办法全文。" in text
    assert json.loads(await _page(client, "/catalog/schema.json")) == records.schema()


async def test_drafts_and_documents_in_review_are_never_served(client: TestClient, archive: Archive) -> None:
    for doc_id in ("D-1", "R-1", "NOPE"):
        html = await _page(client, f"/catalog/doc/{doc_id}", 404)
        assert "未找到该文件" in html
        for tail in ("/record.json", "/text.txt", "/original", "/v/1"):
            assert (await client.get(f"/catalog/doc/{doc_id}{tail}")).status == 404
    # a published document sent back to review disappears, and its published version with it
    archive.set_status("G-1", Status.REVIEW)
    assert (await client.get("/catalog/doc/G-1")).status == 404
    assert (await client.get("/catalog/doc/G-1/v/1")).status == 404
    feed = await _page(client, "/catalog/feed.atom")
    sitemap = await _page(client, "/sitemap.xml")
    listing = await _page(client, "/catalog")
    for text in (feed, sitemap, listing):
        assert "结婚登记" not in text and "G-1" not in text
        for hidden in HIDDEN:
            assert hidden not in text


async def test_the_original_is_served_only_from_the_originals_folder(
    client: TestClient, archive: Archive, settings: Settings, tmp_path: Path
) -> None:
    kept = settings.paths.originals_dir
    kept.mkdir(parents=True)
    (kept / "p-new.pdf").write_bytes(b"%PDF-1.4 original bytes")
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"not to be served")
    (kept / "link.pdf").symlink_to(outside)
    cases = {
        "P-NEW": (str(kept / "p-new.pdf"), 200),
        "G-1": (str(outside), 404),
        "P-EXP": (str(kept / "link.pdf"), 404),
        "P-OLD": (str(kept / ".." / "secrets.toml"), 404),
    }
    for doc_id, (source, _) in cases.items():
        archive.db.execute("UPDATE documents SET source = ? WHERE id = ?", [source, doc_id])
    (settings.home / "secrets.toml").touch()
    for doc_id, (_, status) in cases.items():
        response = await client.get(f"/catalog/doc/{doc_id}/original")
        assert response.status == status, doc_id
        page = await _page(client, f"/catalog/doc/{doc_id}")
        assert ("原始文件 Original file" in page) == (status == 200), doc_id
    response = await client.get("/catalog/doc/P-NEW/original")
    assert await response.read() == b"%PDF-1.4 original bytes"
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="P-NEW.pdf"')
    assert "sandbox" in response.headers["Content-Security-Policy"]
    # a relative source is read inside the folder too
    archive.db.execute("UPDATE documents SET source = ? WHERE id = ?", ["p-new.pdf", "G-1"])
    assert (await client.get("/catalog/doc/G-1/original")).status == 200
    assert os.path.exists(outside)


async def test_feed_and_sitemap(client: TestClient, archive: Archive) -> None:
    response = await client.get("/catalog/feed.atom")
    assert response.content_type == "application/atom+xml"
    feed = ET.fromstring(await response.text())
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles[0] == "已废止 Abolished：示范市居住证管理办法"  # the latest change first
    assert "已发布 Published：示范市居住证管理办法（2026年修订）" in titles
    assert not any("草稿" in str(t) or "审核中" in str(t) for t in titles)
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == len(entries)
    link = entries[0].find(f"{ATOM}link")
    assert link is not None and link.get("href", "").endswith("/catalog/doc/P-OLD")
    # a document republished after review shows up again as newly published
    archive.set_status("P-EXP", Status.PUBLISHED)
    again = ET.fromstring(await _page(client, "/catalog/feed.atom")).findall(f"{ATOM}entry")
    assert again[0].findtext(f"{ATOM}title") == "已发布 Published：临时补贴通知"

    sitemap = ET.fromstring(await _page(client, "/sitemap.xml"))
    locs = [u.findtext(f"{SITEMAP}loc") or "" for u in sitemap.findall(f"{SITEMAP}url")]
    assert sorted(loc.rsplit("/", 1)[1] for loc in locs if "/catalog/doc/" in loc) == [
        "G-1",
        "P-EXP",
        "P-NEW",
        "P-OLD",
    ]
    assert any(loc.endswith("/public/abolished") for loc in locs)


async def test_pages_stay_under_50_kb_and_carry_the_security_headers(
    client: TestClient, archive: Archive
) -> None:
    long_body = "第一条 " + "这是一份很长的政策文件正文，" * 14_000  # ~200k characters
    archive.upsert(
        Document(
            id="LONG",
            title="很长的文件" * 20,
            body=long_body,
            doc_no="示府发〔2026〕99号",
            issuer="示范市很长名字的机构" * 5,
            keywords=[f"关键词{i}" for i in range(40)],
            summary="概述" * 300,
            topic="综合",
        )
    )
    for n in range(60):  # a long history
        archive.upsert(
            Document(
                id="LONG",
                title="很长的文件" * 20,
                body=long_body + str(n),
                doc_no="示府发〔2026〕99号",
                issuer="示范市很长名字的机构" * 5,
                summary="概述" * 300,
                topic="综合",
            )
        )
    for n in range(60):  # many agencies and long results
        archive.upsert(
            Document(
                id=f"M-{n:02d}",
                title=f"{'标题很长' * 25}{n}",
                body="正文",
                summary="概述" * 300,
                issuer=f"示范市第{n}个很长名称的委员会办公室",
                topic=f"主题{n}",
                genre=f"体裁{n}",
                audience=f"对象{n}",
                doc_no=f"示发〔2026〕{n}号",
                index_no=f"X/2026-{n:05d}",
            )
        )
    sizes = {}
    for path in (
        "/catalog",
        "/catalog?q=标题很长",
        "/catalog/doc/LONG",
        "/catalog/browse/issuer",
        "/catalog/doc/LONG/v/3",
        "/catalog/doc/NOPE",
    ):
        response = await client.get(path)
        body = await response.read()
        sizes[path] = len(body)
        assert response.status in (200, 404)
        assert len(body) <= 50 * 1024, (path, len(body))
        html = body.decode("utf-8")
        assert "<script" not in html and "style=" not in html
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["X-Frame-Options"] == "DENY"
    doc_page = await _page(client, "/catalog/doc/LONG")
    assert "正文较长" in doc_page and "另有 31 个更早的版本" in doc_page
    text = await (await client.get("/catalog/doc/LONG/text.txt")).text()
    assert long_body + "59" in text  # the whole text is the download
    assert sizes["/catalog"] > 10_000  # the page is really full
