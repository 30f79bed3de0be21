"""The calls in progress, written through to ``app.db``, so that an app restart (or a crash) loses no call.

A segment is acknowledged to the speech-to-text side only after it is here: the protocol's promise that a
stream resumes from its last acked seq (docs/hotline.md) then holds across a restart, and the call's
work order is drafted from every segment it was sent.  The text is kept masked (``core.pii.mask`` with
``caller=True``: ID numbers, phones, cards, names after 我叫/我姓, house numbers): the journal is a
working copy of a call, not a transcript archive (raw transcripts are kept only under the retention
setting, by the work-order store).  A call's rows are deleted when its work order is drafted.

  calls_live(call_id, started_at, line, opened)
  calls_live_segments(call_id, seq, speaker, text, is_final, start_ms, end_ms, confidence)

Every method blocks: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path

from connectors.hotline import Call, Segment
from core.appdb import AppDb
from core.pii import mask

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls_live (
    call_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, line TEXT NOT NULL, opened REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS calls_live_segments (
    call_id TEXT NOT NULL, seq INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL,
    is_final INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, confidence REAL,
    PRIMARY KEY (call_id, seq)
);
"""


class CallJournal:
    """Write-through copy of the calls in progress in ``app.db``."""

    def __init__(self, path: Path | str) -> None:
        self._store = AppDb(path, _SCHEMA)

    def close(self) -> None:
        self._store.close()

    def opened(self, call: Call) -> None:
        with self._store.tx() as db:
            db.execute("INSERT INTO calls_live (call_id, started_at, line, opened) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (call_id) DO UPDATE SET started_at = excluded.started_at, "
                       "line = excluded.line", [call.call_id, call.started_at, call.line, call.opened])

    def applied(self, call: Call, seq: int) -> None:
        """Keep the segment ``call`` holds at ``seq`` (read here, under the store's lock: when a partial and
        its final are written by two threads, the last write is of the segment the call holds now),
        opening the call's row if needed."""
        with self._store.tx() as db:
            segment = call.segments[seq]
            db.execute("INSERT OR IGNORE INTO calls_live (call_id, started_at, line, opened) "
                       "VALUES (?, ?, ?, ?)", [call.call_id, call.started_at, call.line, call.opened])
            db.execute("INSERT OR REPLACE INTO calls_live_segments (call_id, seq, speaker, text, is_final, "
                       "start_ms, end_ms, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [segment.call_id, segment.seq, segment.speaker, mask(segment.text, caller=True),
                        int(segment.is_final), segment.start_ms, segment.end_ms, segment.confidence])

    def forget(self, call_id: str) -> None:
        with self._store.tx() as db:
            db.execute("DELETE FROM calls_live_segments WHERE call_id = ?", [call_id])
            db.execute("DELETE FROM calls_live WHERE call_id = ?", [call_id])

    def load(self) -> list[Call]:
        """The calls that were in progress, oldest first, with their segments."""
        calls = {row["call_id"]: Call(row["call_id"], row["started_at"], row["line"], float(row["opened"]))
                 for row in self._store.rows("SELECT * FROM calls_live ORDER BY opened, call_id")}
        for row in self._store.rows("SELECT * FROM calls_live_segments ORDER BY call_id, seq"):
            call = calls.get(row["call_id"])
            if call is not None:
                call.segments[int(row["seq"])] = Segment(
                    row["call_id"], int(row["seq"]), row["speaker"], row["text"], bool(row["is_final"]),
                    int(row["start_ms"]), int(row["end_ms"]), row["confidence"])
        return list(calls.values())
