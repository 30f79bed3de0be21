"""The audit log: one append-only row per action of an admin, reviewer, editor or staff member (app.db).

A row says who (name and role), what (``action``, ``target``), the SHA-256 digests of the state before and
after (canonical JSON) with a short masked summary of each, when, and from which address.  Rows are never
changed: this module has no update or delete, and SQLite triggers refuse both, so neither the app nor a
stray SQL statement can rewrite history.  Admins read it filtered and export it as CSV (app/admin/people.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.appdb import AppDb
from core.pii import mask

SUMMARY_CHARS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', before_digest TEXT NOT NULL DEFAULT '',
    after_digest TEXT NOT NULL DEFAULT '', before_summary TEXT NOT NULL DEFAULT '',
    after_summary TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

COLUMNS = ("id", "at", "actor", "role", "action", "target", "before_digest", "after_digest",
           "before_summary", "after_summary", "ip")


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    actor: str
    role: str
    action: str
    target: str
    before_digest: str
    after_digest: str
    before_summary: str
    after_summary: str
    ip: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _canonical(state: Any) -> str:
    return json.dumps(state, ensure_ascii=False, sort_keys=True, default=str)


def digest(state: Any) -> str:
    """SHA-256 of the canonical JSON of ``state``; "" for None (no state before a create, after a delete)."""
    return "" if state is None else hashlib.sha256(_canonical(state).encode("utf-8")).hexdigest()


def summary(state: Any) -> str:
    if state is None:
        return ""
    text = state if isinstance(state, str) else _canonical(state)
    text = mask(text)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


class AuditLog:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self._store = AppDb(path, _SCHEMA)
        self._clock = clock

    def close(self) -> None:
        self._store.close()

    def record(self, actor: str, role: str, action: str, target: str = "", before: Any = None,
               after: Any = None, ip: str = "") -> int:
        with self._store.tx() as db:
            cur = db.execute(
                "INSERT INTO audit_log (at, actor, role, action, target, before_digest, after_digest,"
                " before_summary, after_summary, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self._clock(), actor, role, action, mask(target), digest(before), digest(after),
                 summary(before), summary(after), ip])
        return int(cur.lastrowid or 0)

    def query(self, actor: str = "", action: str = "", target: str = "", since: float | None = None,
              until: float | None = None, limit: int = 200, offset: int = 0) -> list[AuditRow]:
        sql, params = "SELECT * FROM audit_log WHERE 1=1", list[Any]()
        for column, value in (("actor", actor), ("action", action)):
            if value:
                sql, params = sql + f" AND {column} = ?", [*params, value]
        if target:
            sql, params = sql + " AND target LIKE ?", [*params, f"%{target}%"]
        if since is not None:
            sql, params = sql + " AND at >= ?", [*params, since]
        if until is not None:
            sql, params = sql + " AND at < ?", [*params, until]
        rows = self._store.rows(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [AuditRow(**{c: r[c] for c in COLUMNS}) for r in rows]

    def actions(self) -> list[str]:
        return [r[0] for r in self._store.rows("SELECT DISTINCT action FROM audit_log ORDER BY action")]


def to_csv(rows: list[AuditRow]) -> str:
    """CSV with a UTF-8 byte-order mark, so that spreadsheet programs read the Chinese text."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, c) for c in COLUMNS])
    return out.getvalue()
