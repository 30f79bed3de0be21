"""/admin/documents through the real app over HTTP: filters, create, edit, diff, import, lifecycle, roles."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from app.keys import ARCHIVE, AUDIT, SETTINGS
from archive import reviews
from archive.models import DocType, Document, Status
from archive.store import Archive
from tests.admin.conftest import SignedIn


def archive_of(client: TestClient) -> Archive:
    return client.app[ARCHIVE]


def seed(client: TestClient) -> Archive:
    archive = archive_of(client)
    archive.upsert(Document(id="SF-G-100", type=DocType.GUIDE, title="居住证办理",
                            body="申领居住证的办事指南。", issuer="示范市公安局", topic="公安",
                            genre="办事指南", audience="自然人", issued_on="2025-03-01",
                            materials=["居民身份证"]))
    archive.upsert(Document(id="SF-P-200", title="养老保险办法", body="第一条 为了保障……",
                            issuer="示范市人社局", doc_no="示人社〔2024〕3号", index_no="1136-2024-00012",
                            topic="社保", issued_on="2024-07-15"))
    archive.upsert(Document(id="SF-P-201", title="养老保险办法（2026年修订）", body="第一条 新的规定。",
                            issuer="示范市人社局", topic="社保", issued_on="2026-01-10"))
    archive.upsert(Document(id="SF-F-300", type=DocType.FAQ, title="护照多久能办好", body="一般十个工作日。",
                            issuer="示范市公安局", status=Status.DRAFT))
    return archive


def row_ids(html: str) -> list[str]:
    """The document ids listed in the table, in order."""
    return re.findall(r'<th scope="row"><a href="/admin/documents/([^"?/]+)">', html)


async def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return await client.post(path, data={**data, "csrf": client.csrf}, allow_redirects=False)  # type: ignore[attr-defined]


GUIDE_FORM = {"id": "SF-G-900", "type": "guide", "title": "新生儿落户",
              "body": "新生儿出生后一个月内办理户口登记。", "issuer": "示范市公安局",
              "materials": "出生医学证明\n父母双方居民户口簿；身份证\n", "keywords": "落户、上户口",
              "issued_on": "2026-03-01"}


async def test_the_list_filters_by_words_doc_no_and_every_catalog_element(signed_in: SignedIn) -> None:
    reviewer = await signed_in("reviewer1")
    seed(reviewer)
    cases = {
        "": ["SF-F-300", "SF-G-100", "SF-P-200", "SF-P-201"],
        "q=居住证": ["SF-G-100"],
        "q=〔2024〕3号": ["SF-P-200"],
        "q=1136-2024-00012": ["SF-P-200"],
        "type=faq": ["SF-F-300"],
        "status=draft": ["SF-F-300"],
        "issuer=示范市人社局": ["SF-P-200", "SF-P-201"],
        "topic=公安&genre=办事指南&audience=自然人": ["SF-G-100"],
        "issued_from=2025-01-01&issued_to=2026-12-31": ["SF-G-100", "SF-P-201"],
        "validity=current&issuer=示范市人社局": ["SF-P-200", "SF-P-201"],
        "validity=abolished": [],
    }
    for query, expected in cases.items():
        response = await reviewer.get(f"/admin/documents?{query}")
        html = await response.text()
        assert response.status == 200, (query, html)
        assert row_ids(html) == expected, query
        assert f"共 {len(expected)} 份" in html
    bad = await reviewer.get("/admin/documents?issued_from=2024-02-30")
    assert bad.status == 400 and "not a valid date" in await bad.text()


async def test_the_list_pages_keep_the_filters(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    archive = archive_of(editor)
    for n in range(30):
        archive.upsert(Document(id=f"P{n:03d}", title=f"文件{n}", body="正文", topic="民政"))
    first = await (await editor.get("/admin/documents?topic=民政")).text()
    assert row_ids(first) == [f"P{n:03d}" for n in range(25)]
    assert "topic=%E6%B0%91%E6%94%BF&amp;page=2" in first and "第 1 / 2 页" in first
    second = await (await editor.get("/admin/documents?topic=民政&page=2")).text()
    assert row_ids(second) == [f"P{n:03d}" for n in range(25, 30)]


async def test_create_shows_each_validation_error_next_to_its_field_and_keeps_the_input(
        signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    broken = {**GUIDE_FORM, "title": "", "issued_on": "2026-02-30", "valid_from": "2026-05-01",
              "valid_until": "2026-01-01"}
    response = await post(editor, "/admin/documents", broken)
    html = await response.text()
    assert response.status == 400
    for name, message in (("title", "title is missing or empty"),
                          ("issued_on", "issued_on: &#39;2026-02-30&#39; is not a valid date"),
                          ("valid_until", "valid_until 2026-01-01 is before valid_from")):
        assert f'id="doc-{name}-error" class="doc-error">错误 Error: {message}' in html, name
        assert re.search(rf'id="doc-{name}" name="{name}" aria-describedby="[^"]*doc-{name}-error"'
                         r'[^>]* aria-invalid="true"', html), name
    assert "出生医学证明\n父母双方居民户口簿；身份证" in html  # what was typed comes back
    assert archive_of(editor).find("SF-G-900") is None


async def test_create_makes_a_draft_with_the_materials_one_per_line_and_audits_it(
        signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    response = await post(editor, "/admin/documents", {**GUIDE_FORM, "status": "published"})
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/admin/documents/SF-G-900?created=1"
    doc = archive_of(editor).get("SF-G-900")
    assert doc.status is Status.DRAFT  # whatever the form says: a new document starts as a draft
    assert doc.materials == ["出生医学证明", "父母双方居民户口簿；身份证"]
    assert doc.keywords == ["落户", "上户口"]
    page = await (await editor.get(response.headers["Location"])).text()
    assert "草稿已保存 Draft saved." in page and "<li>父母双方居民户口簿；身份证</li>" in page
    row = editor.app[AUDIT].query(action="document_create")[0]
    assert (row.actor, row.role, row.target) == ("editor1", "editor", "SF-G-900")
    again = await post(editor, "/admin/documents", GUIDE_FORM)
    assert again.status == 400 and "already exists" in await again.text()


async def test_an_edit_makes_a_new_version_and_the_page_shows_the_diff_field_by_field(
        signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    await post(editor, "/admin/documents", GUIDE_FORM)
    form = await (await editor.get("/admin/documents/SF-G-900/edit")).text()
    assert 'name="version" value="1"' in form
    changed = {**GUIDE_FORM, "version": "1", "body": "新生儿出生后两个月内办理户口登记。",
               "materials": "出生医学证明\n父母双方居民户口簿；身份证\n结婚证"}
    del changed["id"]
    response = await post(editor, "/admin/documents/SF-G-900", changed)
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/admin/documents/SF-G-900?from=1&to=2&saved=1"
    archive = archive_of(editor)
    assert [v.version for v in archive.history("SF-G-900")] == [1, 2]
    assert archive.get("SF-G-900").status is Status.DRAFT
    html = await (await editor.get(response.headers["Location"])).text()
    diff = html[html.index('id="h-diff"'):]
    assert "<h3>正文 Body</h3>" in diff and "<h3>办理材料 Materials</h3>" in diff
    assert "<h3>名称 Title</h3>" not in diff  # unchanged fields are not listed
    # text: the removed and the added characters, each marked in words (not colour alone)
    assert re.search(r"<del><span class=\"visually-hidden\">［删除 removed: </span>.*?一.*?</del>", diff)
    assert re.search(r"<ins><span class=\"visually-hidden\">［新增 added: </span>.*?两.*?</ins>", diff)
    assert '<span class="visually-hidden">新增 added: </span>结婚证</ins>' in diff
    # a stale form (version 1 again) is refused rather than overwriting version 2
    stale = await post(editor, "/admin/documents/SF-G-900", changed)
    assert stale.status == 409 and archive.get("SF-G-900").version == 2
    row = editor.app[AUDIT].query(action="document_edit")[0]
    assert row.target == "SF-G-900" and row.before_digest != row.after_digest


async def test_any_two_versions_can_be_compared(signed_in: SignedIn) -> None:
    reviewer = await signed_in("reviewer1")
    archive = seed(reviewer)
    for title in ("居住证办理（二）", "居住证办理（三）"):
        archive.upsert(Document(**{**archive.get("SF-G-100").content(), "title": title}))
    html = await (await reviewer.get("/admin/documents/SF-G-100?from=1&to=3")).text()
    assert "第 1 版与第 3 版的差异" in html
    assert "<h3>名称 Title</h3>" in html and "三" in html[html.index('id="h-diff"'):]
    bad = await reviewer.get("/admin/documents/SF-G-100?from=9")
    assert bad.status == 400 and "there is no version 9" in await bad.text()
    missing = await reviewer.get("/admin/documents/NOPE")
    assert missing.status == 404 and "no document with id" in await missing.text()


async def test_editing_a_published_document_sends_the_new_version_to_review(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    archive = seed(editor)
    form = {"version": "1", "type": "guide", "title": "居住证办理", "body": "申领居住证的办事指南（修订）。",
            "materials": "居民身份证"}
    response = await post(editor, "/admin/documents/SF-G-100", form)
    assert response.status == 303, await response.text()
    doc = archive.get("SF-G-100")
    assert (doc.status, doc.version) == (Status.REVIEW, 2)
    submission = reviews.pending(archive, "SF-G-100")
    assert (submission.version, submission.submitted_by, submission.stale) == (2, "editor1", False)
    actions = [r.action for r in editor.app[AUDIT].query(target="SF-G-100")]
    assert {"document_edit", "review_submit"} <= set(actions)


async def test_lifecycle_moves_follow_transitions_and_never_publish_a_draft(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    archive = seed(editor)
    # a draft: no lifecycle buttons, and publishing it directly is refused
    draft_page = await (await editor.get("/admin/documents/SF-F-300")).text()
    assert 'name="to" value="published"' not in draft_page
    # ... but the review section's Submit for review, which runs the checks and moves it to review
    assert '<form method="post" action="/admin/review/SF-F-300/submit">' in draft_page
    refused = await post(editor, "/admin/documents/SF-F-300/status", {"to": "published"})
    assert refused.status == 400 and "published only by a reviewer" in await refused.text()
    assert archive.get("SF-F-300").status is Status.DRAFT
    submitted = await post(editor, "/admin/review/SF-F-300/submit", {})
    assert submitted.status == 303 and archive.get("SF-F-300").status is Status.REVIEW
    in_review = await (await editor.get("/admin/documents/SF-F-300")).text()
    assert 'action="/admin/review/SF-F-300/submit"' not in in_review
    assert 'name="to" value=' not in in_review  # in review: the reviewer decides, no lifecycle buttons
    # a move TRANSITIONS does not allow (published -> draft) is refused too
    wrong = await post(editor, "/admin/documents/SF-P-200/status", {"to": "draft"})
    assert wrong.status == 400 and "cannot move from published to draft" in await wrong.text()
    # abolishing needs a reason; with one (and a replacement picked by search) it is done and audited
    page = await (await editor.get("/admin/documents/SF-P-200?replace_q=2026年修订")).text()
    assert '<option value="SF-P-201">' in page and '<option value="SF-P-200">' not in page
    assert [m for m in re.findall(r'name="to" value="(\w+)"', page)] == ["expired", "abolished"]
    no_reason = await post(editor, "/admin/documents/SF-P-200/status", {"to": "abolished"})
    assert no_reason.status == 400 and archive.get("SF-P-200").status is Status.PUBLISHED
    done = await post(editor, "/admin/documents/SF-P-200/status",
                      {"to": "abolished", "reason": "已被2026年修订版替代", "replaced_by": "SF-P-201"})
    assert done.status == 303
    doc = archive.get("SF-P-200")
    assert doc.status is Status.ABOLISHED
    assert (doc.status_reason, doc.replaced_by) == ("已被2026年修订版替代", "SF-P-201")
    row = editor.app[AUDIT].query(action="document_abolished")[0]
    assert row.target == "SF-P-200" and row.before_digest != row.after_digest
    # abolished: only republish is offered, and the edit form is closed
    after = await (await editor.get("/admin/documents/SF-P-200")).text()
    assert re.findall(r'name="to" value="(\w+)"', after) == ["published"]
    closed = await editor.get("/admin/documents/SF-P-200/edit")
    assert closed.status == 409 and "republish it to change it" in await closed.text()


async def test_import_reports_rejects_line_by_line_and_lands_the_valid_records(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    lines = [
        {"id": "IMP-1", "title": "导入一", "body": "正文一", "status": "draft"},
        {"id": "IMP-2", "title": "", "body": "没有标题"},
        "not json",
        {"id": "IMP-3", "title": "导入三", "body": "正文三", "issued_on": "2024-13-01"},
        {"id": "IMP-4", "title": "导入四", "body": "正文四"},
    ]
    body = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    data = FormData()
    data.add_field("csrf", editor.csrf)  # type: ignore[attr-defined]
    data.add_field("format", "auto")
    data.add_field("files", body.encode("utf-8"), filename="batch.jsonl", content_type="application/x-ndjson")
    response = await editor.post("/admin/documents/upload", data=data)
    html = await response.text()
    assert response.status == 200, html
    assert "batch.jsonl (jsonl, utf-8, documents): 2 added, 0 changed, 0 unchanged, 3 rejected" in html
    for reject in ("batch.jsonl:2: missing_title [IMP-2]: title is missing or empty",
                   "batch.jsonl:3: malformed", "batch.jsonl:4: bad_date [IMP-3]"):
        assert f"<code>rejected {reject}" in html, reject
    archive = archive_of(editor)
    # an upload never publishes: every document lands as a draft that goes through review
    assert archive.get("IMP-1").status is Status.DRAFT
    assert archive.get("IMP-4").status is Status.DRAFT
    assert archive.find("IMP-2") is None
    row = editor.app[AUDIT].query(action="document_import")[0]
    assert row.target == "batch.jsonl"


async def test_import_streams_with_the_header_and_refuses_an_upload_over_the_limit(
        signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    limit = editor.app[SETTINGS].max_upload_bytes
    header = {"X-CSRF-Token": editor.csrf}  # type: ignore[attr-defined]
    small = FormData()
    small.add_field("files", '{"id": "S-1", "title": "小", "body": "正文"}\n'.encode(), filename="s.jsonl")
    ok = await editor.post("/admin/documents/upload", data=small, headers=header)
    assert ok.status == 200 and "s.jsonl (jsonl, utf-8, documents): 1 added" in await ok.text()
    big = FormData()
    big.add_field("files", b"x" * (limit + 1), filename="big.jsonl")
    refused = await editor.post("/admin/documents/upload", data=big, headers=header)
    assert refused.status == 413
    assert f"the upload is larger than {limit // (1024 * 1024)} MB, the limit" in await refused.text()
    assert limit == 20 * 1024 * 1024
    assert archive_of(editor).find("S-1") is not None


async def test_a_form_post_without_the_script_takes_files_up_to_the_upload_limit(signed_in: SignedIn) -> None:
    """No JavaScript: the CSRF token travels in the form, which the console reads under the upload limit,
    not the app's general 256 KB request limit."""
    editor = await signed_in("editor1")
    filler = "办理说明。" * 40_000  # ~600 KB of UTF-8: above the general limit, below the upload limit
    form = FormData()
    form.add_field("csrf", editor.csrf)  # type: ignore[attr-defined]
    record = json.dumps({"id": "BIG-1", "title": "长文件", "body": filler[:150_000]}, ensure_ascii=False)
    form.add_field("files", (record + "\n").encode("utf-8") + b" " * 400_000, filename="big.jsonl")
    ok = await editor.post("/admin/documents/upload", data=form)
    assert ok.status == 200, await ok.text()
    assert archive_of(editor).get("BIG-1").status is Status.DRAFT
    limit = editor.app[SETTINGS].max_upload_bytes
    over = FormData()
    over.add_field("csrf", editor.csrf)  # type: ignore[attr-defined]
    over.add_field("files", b"x" * (limit + 128 * 1024), filename="huge.jsonl")
    refused = await editor.post("/admin/documents/upload", data=over)
    assert refused.status == 413
    assert "the upload is larger than 20 MB, the limit" in await refused.text()


async def test_roles_staff_cannot_read_reviewers_read_but_cannot_write(signed_in: SignedIn) -> None:
    staff = await signed_in("staff1")
    seed(staff)
    assert (await staff.get("/admin/documents")).status == 403
    assert (await staff.get("/admin/documents/SF-G-100")).status == 403
    assert (await post(staff, "/admin/documents", GUIDE_FORM)).status == 403
    reviewer = await signed_in("reviewer1")
    listing = await (await reviewer.get("/admin/documents")).text()
    assert "新建文件 New document" not in listing
    assert (await reviewer.get("/admin/documents/new")).status == 403
    assert (await post(reviewer, "/admin/documents", GUIDE_FORM)).status == 403
    assert (await post(reviewer, "/admin/documents/SF-G-100/status", {"to": "expired"})).status == 403
    assert (await post(reviewer, "/admin/documents/SF-G-100", {"version": "1", "title": "x"})).status == 403
    assert archive_of(reviewer).get("SF-G-100").status is Status.PUBLISHED
    admin = await signed_in("admin1")
    assert (await admin.get("/admin/documents/new")).status == 200


async def test_without_a_session_pages_redirect_and_writes_need_the_csrf_token(
        admin_client: TestClient, signed_in: SignedIn) -> None:
    redirect = await admin_client.get("/admin/documents?q=x", allow_redirects=False)
    assert redirect.status == 303 and redirect.headers["Location"].startswith("/admin/sign-in?next=")
    editor = await signed_in("editor1")
    forged = await editor.post("/admin/documents", data=GUIDE_FORM, allow_redirects=False)
    assert forged.status == 403 and archive_of(editor).find("SF-G-900") is None
