"""The archive store against a real SQLite file: versions, idempotency, lifecycle, change feed, 办件."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archive.models import Application, DocType, Document, Status, StepEvent
from archive.store import Archive, Change
from core.errors import InvalidInput, NotFound


@pytest.fixture
def archive(home: Path) -> Archive:
    with Archive(home / "archive.db") as a:
        yield a


def doc(doc_id: str = "g1", **kw: object) -> Document:
    values: dict[str, object] = {"id": doc_id, "title": "结婚登记", "body": "双方共同到婚姻登记机关办理。"}
    values.update(kw)
    return Document(**values)  # type: ignore[arg-type]


def test_opens_in_wal_mode_and_creates_schema(archive: Archive) -> None:
    assert archive.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"documents", "versions", "changes", "applications", "meta"} <= set(archive.db.table_names())


def test_upsert_is_idempotent_and_keeps_previous_versions(archive: Archive) -> None:
    assert archive.upsert(doc(keywords=["结婚", "登记"])) is Change.ADDED
    assert archive.upsert(doc(keywords=["结婚", "登记"])) is Change.UNCHANGED
    assert archive.upsert(doc(keywords=["结婚", "登记"], body="新的正文")) is Change.CHANGED
    current = archive.get("g1")
    assert (current.version, current.body, current.keywords) == (2, "新的正文", ["结婚", "登记"])
    history = archive.history("g1")
    assert [d.version for d in history] == [1, 2]
    assert history[0].body == "双方共同到婚姻登记机关办理。"
    assert history[-1].body == "新的正文"


def test_bookkeeping_fields_do_not_make_a_version(archive: Archive) -> None:
    archive.upsert(doc(source="a.jsonl"))
    assert archive.upsert(doc(source="b.jsonl")) is Change.UNCHANGED
    assert len(archive.history("g1")) == 1


def test_get_find_and_not_found(archive: Archive) -> None:
    assert archive.find("missing") is None
    with pytest.raises(NotFound):
        archive.get("missing")
    with pytest.raises(NotFound):
        archive.history("missing")


def test_list_filters_and_iter_documents(archive: Archive) -> None:
    archive.upsert(doc("p1", type=DocType.POLICY))
    archive.upsert(doc("g1", type=DocType.GUIDE))
    archive.upsert(doc("f1", type=DocType.FAQ, status=Status.DRAFT))
    assert [d.id for d in archive.list()] == ["f1", "g1", "p1"]
    assert [d.id for d in archive.list(type="guide")] == ["g1"]
    assert [d.id for d in archive.list(status=Status.DRAFT)] == ["f1"]
    assert [d.id for d in archive.list(limit=1, offset=1)] == ["g1"]
    assert [d.id for d in archive.iter_documents(batch=2)] == ["f1", "g1", "p1"]
    assert [d.id for d in archive.iter_documents([Status.PUBLISHED])] == ["g1", "p1"]
    assert list(archive.iter_documents([])) == []


def test_lifecycle_follows_transitions_and_versions_each_move(archive: Archive) -> None:
    archive.upsert(doc("new", status=Status.DRAFT))
    archive.upsert(doc("old"))
    assert (
        archive.set_status("old", Status.EXPIRED, reason="有效期届满", replaced_by="new").status
        is Status.EXPIRED
    )
    with pytest.raises(InvalidInput, match="cannot move"):
        archive.set_status("old", Status.REVIEW)
    with pytest.raises(InvalidInput, match="not in the archive"):
        archive.set_status("new", Status.PUBLISHED, replaced_by="ghost")
    with pytest.raises(InvalidInput, match="unknown status"):
        archive.set_status("new", "retired")
    archive.set_status("new", Status.REVIEW)
    archive.set_status("new", Status.PUBLISHED)
    old = archive.get("old")
    assert (old.status_reason, old.replaced_by, old.version) == ("有效期届满", "new", 2)
    assert [d.status for d in archive.history("new")] == [Status.DRAFT, Status.REVIEW, Status.PUBLISHED]
    # republishing clears the reason and the replacement
    republished = archive.set_status("old", Status.PUBLISHED)
    assert (republished.status_reason, republished.replaced_by) == ("", "")


def test_changes_since_is_monotonic_and_incremental(archive: Archive) -> None:
    seq0, ids = archive.changes_since(0)
    assert (seq0, ids) == (0, [])
    archive.upsert(doc("a"))
    archive.upsert(doc("b"))
    seq1, ids = archive.changes_since(seq0)
    assert seq1 > seq0 and ids == ["a", "b"]
    archive.upsert(doc("b"))  # unchanged: not a change
    assert archive.changes_since(seq1) == (seq1, [])
    archive.set_status("a", Status.EXPIRED)
    seq2, ids = archive.changes_since(seq1)
    assert seq2 > seq1 and ids == ["a"]
    assert archive.latest_change() == seq2


def test_transaction_is_all_or_nothing(archive: Archive) -> None:
    archive.upsert(doc("keep"))
    before = archive.changes_since(0)
    with pytest.raises(RuntimeError), archive.transaction():
        archive.upsert(doc("keep", body="changed inside the failed batch"))
        archive.upsert(doc("new"))
        raise RuntimeError("boom")
    assert archive.changes_since(0) == before
    assert archive.find("new") is None
    assert archive.get("keep").version == 1
    assert len(archive.history("keep")) == 1


def test_nested_failure_rolls_back_only_the_inner_part(archive: Archive) -> None:
    with archive.transaction():
        archive.upsert(doc("outer"))
        with pytest.raises(ValueError), archive.transaction():
            archive.upsert(doc("inner"))
            raise ValueError
    assert archive.find("outer") is not None and archive.find("inner") is None


def test_data_survives_reopening(home: Path) -> None:
    with Archive(home / "archive.db") as a:
        a.upsert(doc("x", materials=["身份证", "户口簿"]))
    with Archive(home / "archive.db") as b:
        assert b.get("x").materials == ["身份证", "户口簿"]


def test_stats_counts_by_type_status_and_applications(archive: Archive) -> None:
    archive.upsert(doc("p1", type=DocType.POLICY, status=Status.EXPIRED))
    archive.upsert(doc("g1", type=DocType.GUIDE))
    archive.upsert(doc("g2", type=DocType.GUIDE))
    archive.upsert_application(Application(app_no="A1", item="结婚登记"), phone_last4="1234")
    stats = archive.stats()
    assert stats["by_type"] == {"guide": 2, "policy": 1}
    assert stats["by_status"] == {"expired": 1, "published": 2}
    assert stats["applications"] == {"total": 1, "in_progress": 1}


def test_applications_verify_by_salted_hash_of_last_four_digits(archive: Archive, home: Path) -> None:
    app = Application(
        app_no="SF2024001",
        item="结婚登记",
        applicant_masked="张*明",
        history=[StepEvent(step="受理", at="2024-05-01T09:30")],
    )
    assert archive.upsert_application(app, phone_last4="8842") is Change.ADDED
    assert archive.upsert_application(app, phone_last4="8842") is Change.UNCHANGED
    assert archive.verify_application("SF2024001", "8842")
    assert not archive.verify_application("SF2024001", "8843")
    assert not archive.verify_application("SF2024001", "88")
    assert not archive.verify_application("NOPE", "8842")
    got = archive.get_application("SF2024001")
    assert got.history == [StepEvent(step="受理", at="2024-05-01T09:30")]
    assert got.phone_hash and "8842" not in got.phone_hash
    with pytest.raises(NotFound):
        archive.get_application("NOPE")
    # the salt is per archive: the same digits hash differently elsewhere
    with Archive(home / "other.db") as other:
        assert other.hash_phone("8842") != archive.hash_phone("8842")
    raw = sqlite3.connect(home / "archive.db").execute("SELECT * FROM applications").fetchall()
    assert "8842" not in repr(raw)
