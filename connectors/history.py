"""Server-side chat history and idempotency keys, in ``app.db``.

A *turn* is one citizen message and the assistant's reply to it, identified by ``(session, key)`` where
``key`` is the idempotency key the client generated when the citizen pressed send.  The same key sent
twice (a queued message re-sent after a reconnect, a WeChat retry, a Telegram re-delivery) finds the turn
already there, so the dialogue runs once and the stored reply is returned.

Personal data: every message is stored masked (``core.pii``: ID numbers, phones, bank cards, e-mail become
typed placeholders), and the four digits of a short answer (the status check's 「手机号后4位」) are
stored as ``****``; the rest is kept as typed so a reload can show it.  The methods block: connectors call
them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.appdb import AppDb
from core.pii import mask

SCHEMA = """
CREATE TABLE IF NOT EXISTS history_turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    key TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    reply TEXT,
    feedback TEXT,
    created_at TEXT NOT NULL,
    replied_at TEXT,
    UNIQUE (session, key)
);
CREATE INDEX IF NOT EXISTS history_turns_session ON history_turns (session, seq);
CREATE TABLE IF NOT EXISTS history_feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

FEEDBACK_VALUES = frozenset({"up", "down"})
_DIGITS4 = re.compile(r"(?<!\d)\d{4}(?!\d)")


def mask_personal(text: str) -> str:
    """What the history keeps of a message: personal data masked, and the 4 digits of a short answer (the
    status check's verification, 「9187」 or 「尾号9187」) hidden."""
    masked = mask(text)
    return _DIGITS4.sub("****", masked) if len(masked) <= 12 else masked


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Turn:
    seq: int
    session: str
    key: str
    text: str
    label: str
    reply: dict[str, Any] | None
    feedback: str | None
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "text": self.text,
            "label": self.label,
            "reply": self.reply,
            "feedback": self.feedback,
            "at": self.created_at,
        }


class History:
    """Turns per session, newest kept up to ``keep_turns``; opened once at start-up, closed at clean-up."""

    def __init__(self, path: Path, keep_turns: int = 200) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.keep_turns = keep_turns
        # one connection shared by the app's worker threads: every use holds its lock (AppDb), so two turns
        # finishing at once cannot interleave statements on it ("database is locked", "no more rows")
        self._store = AppDb(path, SCHEMA)

    def close(self) -> None:
        self._store.close()

    @staticmethod
    def _turn(row: sqlite3.Row) -> Turn:
        return Turn(
            seq=row["seq"],
            session=row["session"],
            key=row["key"],
            text=row["text"],
            label=row["label"],
            reply=json.loads(row["reply"]) if row["reply"] else None,
            feedback=row["feedback"],
            created_at=row["created_at"],
        )

    def find(self, session: str, key: str) -> Turn | None:
        rows = self._store.rows("SELECT * FROM history_turns WHERE session = ? AND key = ?", (session, key))
        return self._turn(rows[0]) if rows else None

    def begin(self, session: str, key: str, text: str, label: str = "", channel: str = "") -> Turn:
        """Record the citizen's message (once per key) and return the turn as stored."""
        with self._store.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO history_turns (session, key, channel, text, label, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session, key, channel, mask_personal(text), mask_personal(label), _now()),
            )
        turn = self.find(session, key)
        assert turn is not None
        return turn

    def finish(self, session: str, key: str, reply: dict[str, Any]) -> None:
        """Store the reply of a turn; the first reply wins, so a replayed key keeps its original answer."""
        with self._store.tx() as db:
            db.execute(
                "UPDATE history_turns SET reply = ?, replied_at = ?"
                " WHERE session = ? AND key = ? AND reply IS NULL",
                (json.dumps(reply, ensure_ascii=False), _now(), session, key),
            )
            self._prune(db, session)

    def _prune(self, db: sqlite3.Connection, session: str) -> None:
        db.execute(
            "DELETE FROM history_turns WHERE session = ? AND seq NOT IN"
            " (SELECT seq FROM history_turns WHERE session = ? ORDER BY seq DESC LIMIT ?)",
            (session, session, self.keep_turns),
        )

    def recent(self, session: str, limit: int = 50) -> list[Turn]:
        """The last ``limit`` turns of a session, oldest first."""
        rows = self._store.rows(
            "SELECT * FROM history_turns WHERE session = ? ORDER BY seq DESC LIMIT ?", (session, limit))
        return [self._turn(r) for r in reversed(rows)]

    def count(self, session: str) -> int:
        rows = self._store.rows("SELECT COUNT(*) FROM history_turns WHERE session = ?", (session,))
        return int(rows[0][0])

    def set_feedback(self, session: str, key: str, value: str) -> bool:
        """Record thumbs up/down on a turn's answer; False when the turn is unknown or unanswered."""
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"feedback must be one of {sorted(FEEDBACK_VALUES)}")
        with self._store.tx() as db:
            cur = db.execute(
                "UPDATE history_turns SET feedback = ? WHERE session = ? AND key = ? AND reply IS NOT NULL",
                (value, session, key),
            )
            if cur.rowcount == 0:
                return False
            db.execute(
                "INSERT INTO history_feedback (session, key, value, at) VALUES (?, ?, ?, ?)",
                (session, key, value, _now()),
            )
        return True

    def feedback_log(self, session: str | None = None) -> list[dict[str, Any]]:
        """Every thumbs event, oldest first (for the admins' curation work)."""
        sql = "SELECT session, key, value, at FROM history_feedback"
        args: tuple[Any, ...] = ()
        if session is not None:
            sql += " WHERE session = ?"
            args = (session,)
        return [dict(r) for r in self._store.rows(sql + " ORDER BY id", args)]
