"""The review workflow (archive/reviews.py) on a real SQLite archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import reviews
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.errors import InvalidInput, NotFound

VALID_ID = "11010519491231002X"
TODAY = "2026-12-01"


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    store = Archive(tmp_path / "archive.db")
    store.upsert(
        Document(
            id="F-1",
            title="居住证怎么续签",
            type=DocType.FAQ,
            issuer="示范市公安局",
            body=f"请携带身份证（如{VALID_ID}）到派出所办理。",
            status=Status.DRAFT,
        )
    )
    store.upsert(
        Document(
            id="F-2",
            title="干净的回答",
            type=DocType.FAQ,
            issuer="示范市公安局",
            body="到派出所办理。",
            status=Status.DRAFT,
        )
    )
    yield store
    store.close()


def test_submit_runs_the_checks_and_moves_to_review(archive: Archive) -> None:
    sub = reviews.submit(archive, "F-1", "editor", today=TODAY)
    doc = archive.get("F-1")
    assert doc.status == Status.REVIEW and sub.version == doc.version
    assert [(f.kind, f.text) for f in sub.findings] == [("id_card", VALID_ID)]
    assert sub.state == reviews.OPEN and sub.submitted_by == "editor" and sub.title == "居住证怎么续签"
    assert [s.doc_id for s in reviews.queue(archive)] == ["F-1"]
    assert reviews.queue(archive)[0].finding_count == 1
    # the same version cannot be submitted twice
    with pytest.raises(InvalidInput, match="already waiting"):
        reviews.submit(archive, "F-1", "editor", today=TODAY)


def test_submit_uses_the_negative_list(archive: Archive) -> None:
    sub = reviews.submit(archive, "F-2", "editor", negative_list=["派出所"], today=TODAY)
    assert [(f.kind, f.text) for f in sub.findings] == [("negative_list", "派出所")]


def test_approve_needs_another_person_and_every_finding(archive: Archive) -> None:
    reviews.submit(archive, "F-1", "editor", today=TODAY)
    with pytest.raises(InvalidInput, match="another reviewer"):
        reviews.approve(archive, "F-1", "editor", [1])
    with pytest.raises(InvalidInput, match="not yet: 1"):
        reviews.approve(archive, "F-1", "reviewer", [])
    with pytest.raises(InvalidInput, match="no finding numbered 2"):
        reviews.approve(archive, "F-1", "reviewer", [1, 2])
    assert archive.get("F-1").status == Status.REVIEW  # nothing moved
    done = reviews.approve(archive, "F-1", "reviewer", [1])
    assert archive.get("F-1").status == Status.PUBLISHED
    assert done.state == reviews.APPROVED and done.decided_by == "reviewer" and done.acknowledged == [1]
    assert reviews.queue(archive) == []
    with pytest.raises(NotFound, match="no submission waiting"):
        reviews.approve(archive, "F-1", "reviewer", [1])


def test_a_publication_reaches_the_change_feed(archive: Archive) -> None:
    reviews.submit(archive, "F-2", "editor", today=TODAY)
    seq = archive.latest_change()
    reviews.approve(archive, "F-2", "reviewer", [])
    latest, changed = archive.changes_since(seq)
    assert latest > seq and changed == ["F-2"]


def test_reject_returns_to_draft_with_the_reason_and_resubmission_works(archive: Archive) -> None:
    reviews.submit(archive, "F-1", "editor", today=TODAY)
    with pytest.raises(InvalidInput, match="reason"):
        reviews.reject(archive, "F-1", "reviewer", "  ")
    rejected = reviews.reject(archive, "F-1", "reviewer", "删去身份证号")
    doc = archive.get("F-1")
    assert doc.status == Status.DRAFT and doc.status_reason == "删去身份证号"
    assert rejected.state == reviews.REJECTED and rejected.reason == "删去身份证号"
    doc.body = "请携带身份证到派出所办理。"
    archive.upsert(doc)
    again = reviews.submit(archive, "F-1", "editor", today=TODAY)
    assert again.findings == [] and archive.get("F-1").status_reason == ""
    reviews.approve(archive, "F-1", "reviewer2", [])
    states = [s.state for s in reviews.history(archive, "F-1")]
    assert states == [reviews.APPROVED, reviews.REJECTED]  # newest first
    assert [s.state for s in reviews.history(archive)] == states


def test_a_document_changed_in_review_must_be_submitted_again(archive: Archive) -> None:
    reviews.submit(archive, "F-2", "editor", today=TODAY)
    doc = archive.get("F-2")
    doc.body = f"改了：{VALID_ID}"
    archive.upsert(doc)  # still in review, a new version nobody checked
    assert reviews.pending(archive, "F-2").stale
    with pytest.raises(InvalidInput, match="changed since it was submitted"):
        reviews.approve(archive, "F-2", "reviewer", [])
    again = reviews.submit(archive, "F-2", "editor", today=TODAY)
    assert [f.kind for f in again.findings] == ["id_card"]
    assert [s.state for s in reviews.history(archive, "F-2")] == [reviews.OPEN, reviews.SUPERSEDED]
    reviews.approve(archive, "F-2", "reviewer", [1])
    assert archive.get("F-2").status == Status.PUBLISHED


def test_only_drafts_and_published_documents_can_be_submitted(archive: Archive) -> None:
    archive.set_status("F-2", Status.PUBLISHED)
    archive.set_status("F-2", Status.ABOLISHED, reason="废止")
    with pytest.raises(InvalidInput, match="abolished"):
        reviews.submit(archive, "F-2", "editor", today=TODAY)
    with pytest.raises(NotFound):
        reviews.submit(archive, "NOPE", "editor", today=TODAY)
    with pytest.raises(InvalidInput, match="who does it"):
        reviews.submit(archive, "F-1", " ", today=TODAY)
    with pytest.raises(NotFound, match="no submission waiting"):
        reviews.pending(archive, "F-1")
    with pytest.raises(NotFound):
        reviews.pending(archive, "NOPE")


def test_a_document_moved_out_of_review_elsewhere_leaves_the_queue(archive: Archive) -> None:
    reviews.submit(archive, "F-2", "editor", today=TODAY)
    archive.set_status("F-2", Status.DRAFT)  # e.g. by another tool
    assert reviews.queue(archive) == []
    with pytest.raises(InvalidInput, match="no longer in review"):
        reviews.reject(archive, "F-2", "reviewer", "x")


def test_the_records_survive_reopening(archive: Archive, tmp_path: Path) -> None:
    reviews.submit(archive, "F-1", "editor", today=TODAY)
    archive.close()
    with Archive(tmp_path / "archive.db") as again:
        sub = reviews.pending(again, "F-1")
        assert [f.kind for f in sub.findings] == ["id_card"]
        assert sub.to_json()["findings"][0]["number"] == 1
