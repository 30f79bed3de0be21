"""Review before publishing: submissions, their findings and the decisions on them, in ``archive.db``.

The workflow (issue 13):

* :func:`submit` — an editor sends a document for review: the checks run (``archive.review``), their
  findings are stored for that version and the document moves to ``review`` (``Archive.set_status``,
  following ``archive.models.TRANSITIONS``: a draft or a published document).  A document already in review
  whose content changed since its submission (or that reached review without one, ``civic docs review``)
  is checked again; one whose open submission is still current is refused.
* :func:`approve` — a reviewer who is not the submitter, with every finding acknowledged by its number
  (1, 2, …), publishes the version that was checked; a document changed since its submission must be
  submitted again.
* :func:`reject` — with a reason, the document goes back to draft; the reason is its ``status_reason``.
* :func:`queue` lists the open submissions, :func:`pending` one of them with its findings, :func:`history`
  the decisions.

Every status move goes through ``Archive.set_status``, inside the same transaction as the submission's row,
so the running app's live index (retrieval/live.py) sees a publication within its watch interval and a
failed decision leaves nothing behind.  Tables (created on first use):

  review_submissions  id, doc_id, version (the version checked, in review), submitted_by, submitted_at,
                      state (open | approved | rejected | superseded), decided_by, decided_at, reason,
                      acknowledged (JSON list of finding numbers)
  review_findings     submission_id, number (1-based), kind, field, start, end, text, message
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from archive.models import TRANSITIONS, Status
from archive.review import Finding, review
from archive.store import Archive
from core.errors import InvalidInput, NotFound

OPEN, APPROVED, REJECTED, SUPERSEDED = "open", "approved", "rejected", "superseded"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    decided_by TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    acknowledged TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS review_submissions_doc ON review_submissions(doc_id, id);
CREATE INDEX IF NOT EXISTS review_submissions_state ON review_submissions(state, id);
CREATE TABLE IF NOT EXISTS review_findings (
    submission_id INTEGER NOT NULL REFERENCES review_submissions(id),
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    field TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (submission_id, number)
);
"""

_ready: weakref.WeakSet[Archive] = weakref.WeakSet()
_ready_lock = threading.Lock()


@dataclass
class Submission:
    """One submission of one document version and what became of it."""

    id: int
    doc_id: str
    version: int
    title: str
    submitted_by: str
    submitted_at: str
    state: str
    decided_by: str = ""
    decided_at: str = ""
    reason: str = ""
    acknowledged: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # finding number n is findings[n - 1]
    finding_count: int = 0
    # the document is no longer the version that was checked (or has left review): approving is refused
    stale: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "findings"}
        data["findings"] = [{"number": n, **f.to_json()} for n, f in enumerate(self.findings, start=1)]
        return data


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ensure_schema(archive: Archive) -> None:
    """Create the review tables in the archive's database (once per open archive)."""
    with _ready_lock:
        if archive in _ready:
            return
        with archive.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    archive.db.execute(statement)
        _ready.add(archive)


def _check_person(by: str, what: str) -> str:
    name = (by or "").strip()
    if not name:
        raise InvalidInput(f"{what}: who does it is missing")
    return name


def _submission(archive: Archive, row: dict[str, Any], with_findings: bool) -> Submission:
    doc = archive.find(row["doc_id"])
    sub = Submission(
        id=int(row["id"]), doc_id=row["doc_id"], version=int(row["version"]),
        title=doc.title if doc else "", submitted_by=row["submitted_by"], submitted_at=row["submitted_at"],
        state=row["state"], decided_by=row["decided_by"], decided_at=row["decided_at"], reason=row["reason"],
        acknowledged=list(json.loads(row["acknowledged"] or "[]")),
        finding_count=int(row.get("finding_count") or 0),
    )
    moved = doc is None or doc.status != Status.REVIEW or doc.version != sub.version
    sub.stale = sub.state == OPEN and moved
    if with_findings:
        rows = archive._rows(
            'SELECT kind, text, start, "end", field, message FROM review_findings'
            " WHERE submission_id = ? ORDER BY number", [sub.id])
        sub.findings = [Finding(r["kind"], r["text"], int(r["start"]), int(r["end"]), r["field"],
                                r["message"]) for r in rows]
        sub.finding_count = len(sub.findings)
    return sub


_SELECT = (
    "SELECT s.*, (SELECT count(*) FROM review_findings f WHERE f.submission_id = s.id) AS finding_count"
    " FROM review_submissions s"
)


def _open_row(archive: Archive, doc_id: str) -> dict[str, Any] | None:
    rows = archive._rows(f"{_SELECT} WHERE s.doc_id = ? AND s.state = ? ORDER BY s.id DESC LIMIT 1",
                         [doc_id, OPEN])
    return rows[0] if rows else None


def _decide(archive: Archive, sub_id: int, state: str, by: str, reason: str = "",
            acknowledged: Iterable[int] = ()) -> None:
    archive.db.execute(
        "UPDATE review_submissions SET state = ?, decided_by = ?, decided_at = ?, reason = ?,"
        " acknowledged = ? WHERE id = ?",
        [state, by, _now(), reason, json.dumps(sorted(acknowledged)), sub_id])


def submit(archive: Archive, doc_id: str, by: str, *, negative_list: Iterable[str] = (),
           today: str | None = None) -> Submission:
    """Check ``doc_id`` and send it for review (see the module docstring); returns the new submission."""
    by = _check_person(by, "submit")
    ensure_schema(archive)
    day = today or date.today().isoformat()
    terms = list(negative_list)
    with archive.transaction():
        doc = archive.get(doc_id)
        previous = _open_row(archive, doc_id)
        if doc.status == Status.REVIEW:
            if previous is not None and int(previous["version"]) == doc.version:
                raise InvalidInput(f"{doc_id} is already waiting for review (submitted by "
                                   f"{previous['submitted_by']} at {previous['submitted_at']})")
        elif Status.REVIEW not in TRANSITIONS[doc.status]:
            raise InvalidInput(f"{doc_id} is {doc.status.value}: only a draft or a published document can be "
                               "submitted for review")
        findings = review(doc, terms, day, lookup=archive.find)
        if doc.status != Status.REVIEW:
            doc = archive.set_status(doc_id, Status.REVIEW)
        if previous is not None:
            _decide(archive, int(previous["id"]), SUPERSEDED, by, "submitted again")
        cursor = archive.db.execute(
            "INSERT INTO review_submissions (doc_id, version, submitted_by, submitted_at, state)"
            " VALUES (?, ?, ?, ?, ?)", [doc_id, doc.version, by, _now(), OPEN])
        sub_id = int(cursor.lastrowid or 0)
        for number, f in enumerate(findings, start=1):
            archive.db.execute(
                "INSERT INTO review_findings"
                ' (submission_id, number, kind, field, start, "end", text, message)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [sub_id, number, f.kind, f.field, f.start, f.end, f.text, f.message])
    return pending(archive, doc_id)


def pending(archive: Archive, doc_id: str) -> Submission:
    """The open submission of ``doc_id`` with its findings (NotFound when nothing waits)."""
    ensure_schema(archive)
    row = _open_row(archive, doc_id)
    if row is None:
        archive.get(doc_id)  # NotFound for an unknown document
        raise NotFound(f"{doc_id} has no submission waiting for review")
    return _submission(archive, row, with_findings=True)


def approve(archive: Archive, doc_id: str, by: str, acknowledged: Iterable[int]) -> Submission:
    """Publish the version that was checked: only by someone other than the submitter, only with every
    finding acknowledged."""
    by = _check_person(by, "approve")
    acks = {int(n) for n in acknowledged}
    ensure_schema(archive)
    with archive.transaction():
        sub = pending(archive, doc_id)
        if by == sub.submitted_by:
            raise InvalidInput(f"{doc_id} was submitted by {by}: another reviewer must approve it")
        if sub.stale:
            raise InvalidInput(f"{doc_id} changed since it was submitted (version {sub.version} was "
                               "checked): submit it again so the checks run on what would be published")
        numbers = set(range(1, sub.finding_count + 1))
        unknown = sorted(acks - numbers)
        if unknown:
            raise InvalidInput(f"{doc_id}: no finding numbered {', '.join(map(str, unknown))} "
                               f"(it has {sub.finding_count})")
        missing = sorted(numbers - acks)
        if missing:
            raise InvalidInput(f"{doc_id}: every finding must be acknowledged before approval; not yet: "
                               f"{', '.join(map(str, missing))}")
        archive.set_status(doc_id, Status.PUBLISHED)
        _decide(archive, sub.id, APPROVED, by, acknowledged=acks)
    return _by_id(archive, sub.id)


def reject(archive: Archive, doc_id: str, by: str, reason: str) -> Submission:
    """Return the document to draft with ``reason`` (required), which becomes its ``status_reason``."""
    by = _check_person(by, "reject")
    why = (reason or "").strip()
    if not why:
        raise InvalidInput(f"{doc_id}: a rejection needs a reason the editor can act on")
    ensure_schema(archive)
    with archive.transaction():
        sub = pending(archive, doc_id)
        status = archive.get(doc_id).status
        if status != Status.REVIEW:
            raise InvalidInput(f"{doc_id} is no longer in review (it is {status.value})")
        archive.set_status(doc_id, Status.DRAFT, reason=why)
        _decide(archive, sub.id, REJECTED, by, why)
    return _by_id(archive, sub.id)


def _by_id(archive: Archive, sub_id: int) -> Submission:
    rows = archive._rows(f"{_SELECT} WHERE s.id = ?", [sub_id])
    if not rows:
        raise NotFound(f"no review submission {sub_id}")
    return _submission(archive, rows[0], with_findings=True)


def queue(archive: Archive) -> list[Submission]:
    """The open submissions of documents still in review, oldest first (findings counted, not loaded)."""
    ensure_schema(archive)
    rows = archive._rows(
        f"{_SELECT} JOIN documents d ON d.id = s.doc_id WHERE s.state = ? AND d.status = ? ORDER BY s.id",
        [OPEN, Status.REVIEW.value])
    return [_submission(archive, r, with_findings=False) for r in rows]


def history(archive: Archive, doc_id: str | None = None, limit: int = 100) -> list[Submission]:
    """Decisions, newest first: every submission of ``doc_id`` (open ones included), or the latest
    ``limit`` decided submissions of the whole archive."""
    ensure_schema(archive)
    if doc_id is not None:
        rows = archive._rows(f"{_SELECT} WHERE s.doc_id = ? ORDER BY s.id DESC LIMIT ?", [doc_id, limit])
    else:
        rows = archive._rows(f"{_SELECT} WHERE s.state != ? ORDER BY s.id DESC LIMIT ?", [OPEN, limit])
    return [_submission(archive, r, with_findings=doc_id is not None) for r in rows]
