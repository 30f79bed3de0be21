"""Conversation-side state of the app, in ``settings.paths.app_db`` (SQLite).

What lives here: tickets (hand-overs to staff, complaints, suggestions) with their transcripts, the sessions
paused while a person handles them, the curation log (fallbacks, hand-overs, feedback) the admins work
through, the status-check verification attempts with their per-session locks and the status check waiting for
the phone digits, and the transcript of a conversation's earlier part when its engine session was compacted
(see ``bot/session.py``).

Personal data: every text this module stores goes through ``core.pii.mask`` first (ID numbers, phones, bank
cards, e-mail become typed placeholders).  A contact staff may need is kept apart, encrypted
(``app/contacts.py``).  Every method is one short transaction and blocks: callers on the event loop use
``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, NotFound
from core.pii import mask

TICKET_KINDS = {"handover": "H", "complaint": "C", "suggestion": "S"}
LOG_KINDS = frozenset({"fallback", "handover", "feedback_good", "feedback_bad", "status_attempt"})

MAX_FAILED_VERIFICATIONS = 3
LOCK_SECONDS = 15 * 60
VERIFIED_SECONDS = 10 * 60
PENDING_SECONDS = 30 * 60  # a status check waiting this long for the digits is forgotten
ATTEMPT_SECONDS = 120  # the form reads the outcome the app recorded for this turn's digits within this
# columns added after a release; an older app.db gets them on open
_ADDED_COLUMNS = {"status_attempts": (("locked", "INTEGER NOT NULL DEFAULT 0"),
                                      ("remaining", "INTEGER NOT NULL DEFAULT 0"),
                                      ("taken", "INTEGER NOT NULL DEFAULT 0")),
                  "carried_transcripts": (("compacted_at", "REAL"),)}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, session TEXT NOT NULL, text TEXT NOT NULL,
    transcript TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL DEFAULT 'open',
    created_at REAL NOT NULL, closed_at REAL
);
CREATE INDEX IF NOT EXISTS tickets_session ON tickets(session);
CREATE TABLE IF NOT EXISTS pauses (
    session TEXT PRIMARY KEY, ticket_id TEXT NOT NULL, paused_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS curation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, session TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}', at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS curation_log_kind ON curation_log(kind, at);
CREATE TABLE IF NOT EXISTS status_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, app_no TEXT NOT NULL,
    ok INTEGER NOT NULL, at REAL NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0, remaining INTEGER NOT NULL DEFAULT 0, taken INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS status_pending (
    session TEXT PRIMARY KEY, app_no TEXT NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS status_attempts_key ON status_attempts(session, app_no, at);
CREATE TABLE IF NOT EXISTS status_locks (
    session TEXT NOT NULL, app_no TEXT NOT NULL, until REAL NOT NULL, PRIMARY KEY (session, app_no)
);
CREATE TABLE IF NOT EXISTS status_verified (
    session TEXT NOT NULL, app_no TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (session, app_no)
);
CREATE TABLE IF NOT EXISTS carried_transcripts (
    session TEXT PRIMARY KEY, mark TEXT NOT NULL, transcript TEXT NOT NULL, compacted_at REAL
);
"""


@dataclass
class Ticket:
    id: str
    kind: str
    session: str
    text: str
    transcript: list[dict[str, str]] = field(default_factory=list)
    status: str = "open"
    created_at: float = 0.0
    closed_at: float | None = None


@dataclass(frozen=True)
class Attempt:
    """The outcome of one status verification attempt."""

    ok: bool
    locked: bool  # this attempt (or an earlier one) locked the application number for this session
    remaining: int  # failed attempts left before the lock


@dataclass(frozen=True)
class Pending:
    """A status check waiting for the phone digits: ``app_no`` "" while it still waits for the number."""

    session: str
    app_no: str
    owner: str  # "engine" (the dialogue's form asked) or "standby" (the search answers asked)
    at: float


class Conversations:
    """Thread-safe access to app.db; every method is one short transaction."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns:
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- tickets and pauses ------------------------------------------------------------------------------
    def open_ticket(
        self, kind: str, session: str, text: str, transcript: list[dict[str, str]] | None = None
    ) -> Ticket:
        prefix = TICKET_KINDS.get(kind)
        if prefix is None:
            raise InvalidInput(f"unknown ticket kind {kind!r}; expected one of {sorted(TICKET_KINDS)}")
        now = self._clock()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        with self._tx() as db:
            row = db.execute(
                "SELECT count(*) FROM tickets WHERE id LIKE ?", [f"{prefix}{day}%"]
            ).fetchone()
            ticket = Ticket(
                id=f"{prefix}{day}{row[0] + 1:04d}", kind=kind, session=session, text=mask(text),
                transcript=_masked(transcript or []), created_at=now,
            )
            db.execute(
                "INSERT INTO tickets (id, kind, session, text, transcript, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'open', ?)",
                [ticket.id, kind, session, ticket.text, json.dumps(ticket.transcript, ensure_ascii=False),
                 now],
            )
        return ticket

    def get_ticket(self, ticket_id: str) -> Ticket:
        with self._lock:
            row = self._db.execute("SELECT * FROM tickets WHERE id = ?", [ticket_id]).fetchone()
        if row is None:
            raise NotFound(f"no ticket {ticket_id!r}")
        return _ticket(row)

    def list_tickets(
        self, kind: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[Ticket]:
        sql, params = "SELECT * FROM tickets WHERE 1=1", list[Any]()
        if kind:
            sql, params = sql + " AND kind = ?", [*params, kind]
        if status:
            sql, params = sql + " AND status = ?", [*params, status]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at DESC LIMIT ?", [*params, limit]).fetchall()
        return [_ticket(r) for r in rows]

    def append_transcript(self, ticket_id: str, role: str, text: str) -> None:
        with self._tx() as db:
            row = db.execute("SELECT transcript FROM tickets WHERE id = ?", [ticket_id]).fetchone()
            if row is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            transcript = json.loads(row["transcript"])
            transcript.append({"role": role, "text": mask(text)})
            db.execute(
                "UPDATE tickets SET transcript = ? WHERE id = ?",
                [json.dumps(transcript, ensure_ascii=False), ticket_id],
            )

    def handover(self, session: str, text: str, transcript: list[dict[str, str]],
                 detail: dict[str, Any] | None = None) -> Ticket:
        """Open a hand-over ticket and pause the bot for ``session`` until staff release it; one "handover"
        row in the curation log, with ``detail`` (why: the reason, the standby) and the ticket."""
        current = self.paused_ticket(session)
        if current is not None:
            return self.get_ticket(current)
        ticket = self.open_ticket("handover", session, text, transcript)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO pauses (session, ticket_id, paused_at) VALUES (?, ?, ?)",
                [session, ticket.id, self._clock()],
            )
        self.log("handover", session, text, {**(detail or {}), "ticket": ticket.id})
        return ticket

    def paused_ticket(self, session: str) -> str | None:
        """The open hand-over ticket for ``session`` if the bot is paused there, else None."""
        with self._lock:
            row = self._db.execute("SELECT ticket_id FROM pauses WHERE session = ?", [session]).fetchone()
        return None if row is None else str(row["ticket_id"])

    def release(self, session: str) -> bool:
        """Staff hand the conversation back to the bot; closes the ticket. False when it was not paused."""
        with self._tx() as db:
            row = db.execute("SELECT ticket_id FROM pauses WHERE session = ?", [session]).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM pauses WHERE session = ?", [session])
            db.execute(
                "UPDATE tickets SET status = 'closed', closed_at = ? WHERE id = ?",
                [self._clock(), row["ticket_id"]],
            )
        return True

    # -- the earlier part of a compacted conversation ------------------------------------------------------
    def carry_transcript(self, session: str, mark: str, transcript: list[dict[str, str]]) -> None:
        """Keep the lines a compacted engine session no longer holds, for the new session whose
        ``session_started`` event carries ``mark``."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO carried_transcripts (session, mark, transcript, compacted_at)"
                " VALUES (?, ?, ?, ?)",
                [session, mark, json.dumps(_masked(transcript), ensure_ascii=False), self._clock()],
            )

    def take_compaction(self, session: str) -> float | None:
        """When ``session``'s engine session was last compacted, the first time it is asked after that
        compaction (then None): the next turn checks once whether a pause followed it (app/compaction.py)."""
        with self._tx() as db:
            row = db.execute("SELECT compacted_at FROM carried_transcripts WHERE session = ?",
                             [session]).fetchone()
            if row is None or row["compacted_at"] is None:
                return None
            db.execute("UPDATE carried_transcripts SET compacted_at = NULL WHERE session = ?", [session])
        return float(row["compacted_at"])

    def carried_transcript(self, session: str, mark: str | None) -> list[dict[str, str]]:
        """The lines carried into the engine session marked ``mark``; [] for any other session (a new
        one after a pause starts with nothing earlier)."""
        if not mark:
            return []
        with self._lock:
            row = self._db.execute(
                "SELECT transcript FROM carried_transcripts WHERE session = ? AND mark = ?", [session, mark]
            ).fetchone()
        return [] if row is None else list(json.loads(row["transcript"]))

    # -- curation log -----------------------------------------------------------------------------------
    def log(self, kind: str, session: str, text: str = "", detail: dict[str, Any] | None = None) -> None:
        if kind not in LOG_KINDS:
            raise InvalidInput(f"unknown log kind {kind!r}; expected one of {sorted(LOG_KINDS)}")
        with self._tx() as db:
            db.execute(
                "INSERT INTO curation_log (kind, session, text, detail, at) VALUES (?, ?, ?, ?, ?)",
                [kind, session, mask(text), mask(json.dumps(detail or {}, ensure_ascii=False)),
                 self._clock()],
            )

    def list_log(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM curation_log", []
        if kind:
            sql, params = sql + " WHERE kind = ?", [kind]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # -- status verification ----------------------------------------------------------------------------
    def locked_for(self, session: str, app_no: str) -> float:
        """Seconds left on the lock of ``app_no`` for ``session`` (0 when not locked)."""
        with self._lock:
            row = self._db.execute(
                "SELECT until FROM status_locks WHERE session = ? AND app_no = ?", [session, app_no]
            ).fetchone()
        return 0.0 if row is None else max(0.0, float(row["until"]) - self._clock())

    def record_attempt(self, session: str, app_no: str, ok: bool) -> Attempt:
        """Log one verification attempt; the third failure in a row locks the number for this session."""
        now = self._clock()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO status_attempts (session, app_no, ok, at) VALUES (?, ?, ?, ?)",
                [session, app_no, int(ok), now],
            )
            attempt_id = cur.lastrowid
            outcome = self._outcome(db, session, app_no, ok, now)
            db.execute("UPDATE status_attempts SET locked = ?, remaining = ? WHERE id = ?",
                       [int(outcome.locked), outcome.remaining, attempt_id])
            return outcome

    def _outcome(self, db: sqlite3.Connection, session: str, app_no: str, ok: bool, now: float) -> Attempt:
        """Log the attempt for curation; verified -> mark it; else count the failures and lock on the
        third."""
        db.execute(
            "INSERT INTO curation_log (kind, session, text, detail, at) VALUES (?, ?, ?, ?, ?)",
            ["status_attempt", session, app_no, json.dumps({"ok": ok}), now],
        )
        if ok:
            db.execute(
                "INSERT OR REPLACE INTO status_verified (session, app_no, at) VALUES (?, ?, ?)",
                [session, app_no, now],
            )
            return Attempt(ok=True, locked=False, remaining=MAX_FAILED_VERIFICATIONS)
        lock = db.execute(
            "SELECT until FROM status_locks WHERE session = ? AND app_no = ?", [session, app_no]
        ).fetchone()
        since = float(lock["until"]) if lock is not None else 0.0  # failures count after the last lock
        last_ok = db.execute(
            "SELECT max(at) FROM status_attempts WHERE session = ? AND app_no = ? AND ok = 1",
            [session, app_no],
        ).fetchone()[0]
        since = max(since, float(last_ok or 0.0), now - LOCK_SECONDS)
        failures = db.execute(
            "SELECT count(*) FROM status_attempts"
            " WHERE session = ? AND app_no = ? AND ok = 0 AND at >= ?",
            [session, app_no, since],
        ).fetchone()[0]
        if failures >= MAX_FAILED_VERIFICATIONS:
            db.execute(
                "INSERT OR REPLACE INTO status_locks (session, app_no, until) VALUES (?, ?, ?)",
                [session, app_no, now + LOCK_SECONDS],
            )
            return Attempt(ok=False, locked=True, remaining=0)
        return Attempt(ok=False, locked=False, remaining=MAX_FAILED_VERIFICATIONS - failures)

    def take_attempt(self, session: str, app_no: str) -> Attempt | None:
        """The outcome of the digits the app checked for ``app_no`` in this turn (once; None when none was
        checked in the last ATTEMPT_SECONDS): the status form reads it instead of seeing the digits."""
        with self._tx() as db:
            row = db.execute(
                "SELECT id, ok, locked, remaining FROM status_attempts WHERE session = ? AND app_no = ?"
                " AND taken = 0 AND at >= ? ORDER BY id DESC LIMIT 1",
                [session, app_no, self._clock() - ATTEMPT_SECONDS],
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE status_attempts SET taken = 1 WHERE session = ? AND app_no = ? AND taken = 0",
                       [session, app_no])
        return Attempt(ok=bool(row["ok"]), locked=bool(row["locked"]), remaining=int(row["remaining"]))

    # -- a status check waiting for the citizen's next answer ---------------------------------------------
    def expect_digits(self, session: str, app_no: str, owner: str) -> None:
        """The status check of ``session`` now waits for the phone digits of ``app_no`` ("" : for the
        number).  The app checks the digits itself when they come; they never reach the engine."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO status_pending (session, app_no, owner, at) VALUES (?, ?, ?, ?)",
                [session, app_no, owner, self._clock()])

    def pending_digits(self, session: str) -> Pending | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM status_pending WHERE session = ? AND at >= ?",
                                   [session, self._clock() - PENDING_SECONDS]).fetchone()
        if row is None:
            return None
        return Pending(session=row["session"], app_no=row["app_no"], owner=row["owner"], at=row["at"])

    def clear_pending(self, session: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM status_pending WHERE session = ?", [session])

    def take_verification(self, session: str, app_no: str) -> bool:
        """True (once) when ``app_no`` was verified in ``session`` within the last few minutes."""
        with self._tx() as db:
            row = db.execute(
                "SELECT at FROM status_verified WHERE session = ? AND app_no = ?", [session, app_no]
            ).fetchone()
            db.execute("DELETE FROM status_verified WHERE session = ? AND app_no = ?", [session, app_no])
        return row is not None and self._clock() - float(row["at"]) <= VERIFIED_SECONDS

    def attempts(self, session: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM status_attempts", []
        if session:
            sql, params = sql + " WHERE session = ?", [session]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [dict(r) for r in rows]


def _masked(lines: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**line, "text": mask(str(line.get("text", "")))} for line in lines]


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"], kind=row["kind"], session=row["session"], text=row["text"],
        transcript=json.loads(row["transcript"]), status=row["status"], created_at=row["created_at"],
        closed_at=row["closed_at"],
    )
