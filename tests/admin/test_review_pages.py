"""The review pages (app/admin/review.py) over the real app and archive, and the public clean-up page."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from app.keys import AUDIT
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import SignedIn

VALID_ID = "11010519491231002X"


@pytest.fixture
def archive(admin_settings: Settings) -> Archive:
    store = Archive(admin_settings.paths.archive_db)
    store.upsert(
        Document(
            id="F-1",
            title="居住证续签",
            type=DocType.FAQ,
            issuer="示范市公安局",
            status=Status.DRAFT,
            body=f"请携带身份证（如{VALID_ID}）到派出所办理。\n第二行",
        )
    )
    yield store
    store.close()


def submission_id(html: str) -> str:
    found = re.search(r'name="submission" value="(\d+)"', html)
    assert found, "the page has no decision form"
    return found.group(1)


async def submit(client: TestClient, doc_id: str = "F-1") -> None:
    response = await client.post(
        f"/admin/review/{doc_id}/submit",
        data={"csrf": client.csrf},  # type: ignore[attr-defined]
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == f"/admin/review/{doc_id}?submitted=1"


async def test_editor_submits_and_the_finding_is_highlighted(archive: Archive, signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    await submit(editor)
    assert archive.get("F-1").status == Status.REVIEW
    page = await editor.get("/admin/review/F-1?submitted=1")
    html = await page.text()
    assert page.status == 200 and "已提交审核 Submitted for review." in html
    assert re.search(
        rf'<mark id="f-1" aria-describedby="fd-1">'
        rf'<span class="visually-hidden">[^<]*</span>{VALID_ID}</mark>',
        html,
    )
    assert "身份证号 ID number" in html
    # the editor reads the findings but has no decision form
    assert 'name="submission"' not in html and 'name="ack"' not in html


async def test_the_reviewer_queue_approve_needs_every_finding(
    archive: Archive, signed_in: SignedIn, admin_client: TestClient
) -> None:
    editor, reviewer = await signed_in("editor1"), await signed_in("reviewer1")
    await submit(editor)
    queue = await (await reviewer.get("/admin/review")).text()
    assert "居住证续签" in queue and "editor1" in queue
    html = await (await reviewer.get("/admin/review/F-1")).text()
    sub = submission_id(html)
    assert 'id="ack-1"' in html
    refused = await reviewer.post(
        "/admin/review/F-1/approve",
        data={"csrf": reviewer.csrf, "submission": sub},  # type: ignore[attr-defined]
        allow_redirects=False,
    )
    assert refused.status == 400 and "every finding must be acknowledged" in await refused.text()
    assert archive.get("F-1").status == Status.REVIEW
    done = await reviewer.post(
        "/admin/review/F-1/approve",
        allow_redirects=False,
        data={"csrf": reviewer.csrf, "submission": sub, "ack": "1"},
    )  # type: ignore[attr-defined]
    assert done.status == 303
    assert archive.get("F-1").status == Status.PUBLISHED
    # a second reviewer deciding on the page they still have open is told why
    late = await reviewer.post(
        "/admin/review/F-1/reject", data={"csrf": reviewer.csrf, "submission": sub, "reason": "x"}
    )  # type: ignore[attr-defined]
    assert late.status == 409 and "has no submission waiting" in await late.text()
    rows = admin_client.app[AUDIT].query(target="F-1")
    assert {(r.actor, r.action) for r in rows} >= {
        ("editor1", "review_submit"),
        ("reviewer1", "review_approve"),
    }


async def test_reject_with_a_reason_and_the_editor_sees_it(
    archive: Archive, signed_in: SignedIn, admin_client: TestClient
) -> None:
    editor, reviewer = await signed_in("editor1"), await signed_in("reviewer1")
    await submit(editor)
    sub = submission_id(await (await reviewer.get("/admin/review/F-1")).text())
    empty = await reviewer.post(
        "/admin/review/F-1/reject",
        data={
            "csrf": reviewer.csrf,
            "submission": sub,  # type: ignore[attr-defined]
            "reason": " ",
        },
    )
    assert empty.status == 400 and "reason" in await empty.text()
    done = await reviewer.post(
        "/admin/review/F-1/reject",
        allow_redirects=False,
        data={"csrf": reviewer.csrf, "submission": sub, "reason": "删去身份证号"},
    )  # type: ignore[attr-defined]
    assert done.status == 303
    doc = archive.get("F-1")
    assert doc.status == Status.DRAFT and doc.status_reason == "删去身份证号"
    seen = await (await editor.get("/admin/review/F-1")).text()
    assert "删去身份证号" in seen and "提交审核 Submit for review" in seen
    assert "review_reject" in [r.action for r in admin_client.app[AUDIT].query(actor="reviewer1")]


async def test_the_submitter_cannot_approve_their_own(archive: Archive, signed_in: SignedIn) -> None:
    admin = await signed_in("admin1")  # admins hold every role, but the four-eyes rule still holds
    await submit(admin)
    html = await (await admin.get("/admin/review/F-1")).text()
    assert "another reviewer must approve it" in html
    response = await admin.post(
        "/admin/review/F-1/approve",
        data={
            "csrf": admin.csrf,  # type: ignore[attr-defined]
            "submission": submission_id(html),
            "ack": "1",
        },
    )
    assert response.status == 400 and "another reviewer must approve it" in await response.text()
    assert archive.get("F-1").status == Status.REVIEW


async def test_a_decision_on_an_outdated_page_is_refused(archive: Archive, signed_in: SignedIn) -> None:
    editor, reviewer = await signed_in("editor1"), await signed_in("reviewer1")
    await submit(editor)
    response = await reviewer.post(
        "/admin/review/F-1/approve",
        data={
            "csrf": reviewer.csrf,
            "submission": "999",  # type: ignore[attr-defined]
            "ack": "1",
        },
    )
    assert response.status == 400 and "submitted again" in await response.text()
    assert archive.get("F-1").status == Status.REVIEW


async def test_roles_and_errors(archive: Archive, signed_in: SignedIn, admin_client: TestClient) -> None:
    staff, editor, reviewer = (
        await signed_in("staff1"),
        await signed_in("editor1"),
        await signed_in("reviewer1"),
    )
    assert (await staff.get("/admin/review/F-1")).status == 403
    assert (await editor.get("/admin/review")).status == 403
    assert (await reviewer.post("/admin/review/F-1/submit", data={"csrf": reviewer.csrf})).status == 403  # type: ignore[attr-defined]
    assert (await editor.post("/admin/review/F-1/approve", data={"csrf": editor.csrf})).status == 403  # type: ignore[attr-defined]
    anonymous = await admin_client.get("/admin/review/F-1", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/admin/sign-in")
    assert (await reviewer.get("/admin/review/NOPE")).status == 404
    await submit(editor)
    again = await editor.post("/admin/review/F-1/submit", data={"csrf": editor.csrf})  # type: ignore[attr-defined]
    assert again.status == 409 and "already waiting for review" in await again.text()
    # no CSRF token, no submission
    archive.set_status("F-1", Status.DRAFT)
    assert (await editor.post("/admin/review/F-1/submit")).status == 403


async def test_the_public_page_lists_abolished_and_expired(
    archive: Archive, admin_client: TestClient
) -> None:
    archive.upsert(
        Document(
            id="P-NEW",
            title="示范市居住证管理办法（2026年修订）",
            doc_no="示府规〔2026〕1号",
            url="https://www.shifan.gov.cn/p-new.html",
            body="新办法。",
        )
    )
    archive.upsert(
        Document(
            id="P-OLD",
            title="示范市居住证管理办法",
            doc_no="示府规〔2019〕3号",
            issuer="示范市人民政府",
            body="旧办法。",
        )
    )
    archive.set_status("P-OLD", Status.ABOLISHED, reason="被新办法替代", replaced_by="P-NEW")
    archive.upsert(Document(id="P-EXP", title="临时补贴通知", body="补贴。", valid_until="2025-12-31"))
    archive.set_status("P-EXP", Status.EXPIRED, reason="有效期届满")
    response = await admin_client.get("/public/abolished")  # no session
    html = await response.text()
    assert response.status == 200
    assert "示范市居住证管理办法</h2>" in html and "被新办法替代" in html and "示府规〔2019〕3号" in html
    assert (
        '<a href="https://www.shifan.gov.cn/p-new.html" rel="noopener noreferrer">'
        "示范市居住证管理办法（2026年修订）</a>" in html
    )
    assert "临时补贴通知" in html and '<time datetime="2025-12-31">' in html
    assert "居住证续签" not in html  # a draft is not listed
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in html and "style=" not in html


async def test_an_admin_edits_the_negative_list_and_the_checks_use_it(
    archive: Archive, signed_in: SignedIn, admin_settings: Settings, admin_client: TestClient
) -> None:
    admin, reviewer, editor = (
        await signed_in("admin1"),
        await signed_in("reviewer1"),
        await signed_in("editor1"),
    )
    assert (await reviewer.get("/admin/negative-list")).status == 403
    page = await admin.get("/admin/negative-list")
    assert page.status == 200 and 'name="terms"' in await page.text()
    saved = await admin.post(
        "/admin/negative-list", data={"csrf": admin.csrf, "terms": "# 示范市\r\n派出所\r\n"}
    )  # type: ignore[attr-defined]
    assert saved.status == 200 and "1 个词条" in await saved.text()
    assert admin_settings.paths.negative_list.read_text(encoding="utf-8") == "# 示范市\n派出所\n"
    assert [r.action for r in admin_client.app[AUDIT].query(actor="admin1")].count("negative_list_save") == 1
    await submit(editor)
    html = await (await reviewer.get("/admin/review/F-1")).text()
    assert "负面清单 Negative list" in html and "</span>派出所</mark>" in html
    too_long = await admin.post("/admin/negative-list", data={"csrf": admin.csrf, "terms": "词" * 25_000})  # type: ignore[attr-defined]
    assert too_long.status == 400
    assert admin_settings.paths.negative_list.read_text(encoding="utf-8") == "# 示范市\n派出所\n"
