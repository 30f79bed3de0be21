"""What the messaging channels (Telegram, WeChat) must remember between a reply and the citizen's next move,
in ``app.db`` so any app replica can take the next update:

- button payloads behind Telegram's short callback ids (callback data is at most 64 bytes; a payload such
  as ``/ask_guide{"item":"居住证办理","aspect":"fees"}`` is longer): content-addressed, the same on every
  replica;
- the numbered choices last shown to a WeChat user (「回复 1 …」), so a digit maps back to its payload;
- a chat's language chosen with Telegram's ``/lang``;
- the WeChat messages whose answer missed the passive-reply deadline and goes by customer-service message,
  so a retry of that message gets ``success`` instead of a second copy;
- a small key-value store with expiry (the WeChat access token, shared by the replicas).

The methods block: connectors call them with ``asyncio.to_thread`` (the app's thread pool).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_payloads (
    digest TEXT PRIMARY KEY, payload TEXT NOT NULL, title TEXT NOT NULL, used_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS channel_choices (
    session TEXT NOT NULL, n INTEGER NOT NULL, payload TEXT NOT NULL, title TEXT NOT NULL,
    PRIMARY KEY (session, n)
);
CREATE TABLE IF NOT EXISTS channel_prefs (session TEXT PRIMARY KEY, language TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS channel_late (
    session TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (session, key)
);
CREATE TABLE IF NOT EXISTS channel_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL);
"""

PAYLOAD_DAYS = 90  # a button older than this (unused) is forgotten; tapping it says it has expired
LATE_SECONDS = 3600.0  # WeChat retries within about 15 s; an hour is plenty


def payload_digest(payload: str) -> str:
    """The short id of a payload: 16 hex digits of its SHA-256 (the same on every replica)."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


class ChannelState:
    """Opened once at start-up (``app.db``), closed at clean-up."""

    def __init__(self, path: Path, clock: Any = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # -- Telegram: payloads behind short callback ids ------------------------------------------------
    def remember_payload(self, payload: str, title: str) -> str:
        digest = payload_digest(payload)
        now = self.clock()
        self._run("INSERT INTO channel_payloads (digest, payload, title, used_at) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (digest) DO UPDATE SET used_at = excluded.used_at, title = excluded.title",
                  (digest, payload, title, now))
        self._run("DELETE FROM channel_payloads WHERE used_at < ?", (now - PAYLOAD_DAYS * 86400,))
        return digest

    def payload(self, digest: str) -> tuple[str, str] | None:
        """(payload, title) behind a callback id, None when unknown or forgotten."""
        rows = self._run("SELECT payload, title FROM channel_payloads WHERE digest = ?", (digest,))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    # -- WeChat: numbered choices per user ----------------------------------------------------------
    def set_choices(self, session: str, buttons: list[dict[str, Any]]) -> None:
        """The choices last shown to ``session`` (numbered from 1); an answer without buttons clears them."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("DELETE FROM channel_choices WHERE session = ?", (session,))
                self.db.executemany(
                    "INSERT INTO channel_choices (session, n, payload, title) VALUES (?, ?, ?, ?)",
                    [(session, i, str(b.get("payload") or ""), str(b.get("title") or ""))
                     for i, b in enumerate(buttons, 1)],
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def choice(self, session: str, n: int) -> tuple[str, str] | None:
        rows = self._run("SELECT payload, title FROM channel_choices WHERE session = ? AND n = ?",
                         (session, n))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    # -- a chat's chosen language -------------------------------------------------------------------
    def set_language(self, session: str, language: str) -> None:
        self._run("INSERT INTO channel_prefs (session, language) VALUES (?, ?)"
                  " ON CONFLICT (session) DO UPDATE SET language = excluded.language", (session, language))

    def language(self, session: str) -> str:
        rows = self._run("SELECT language FROM channel_prefs WHERE session = ?", (session,))
        return str(rows[0][0]) if rows else ""

    def forget(self, session: str) -> None:
        """A user left the channel (WeChat unsubscribe): drop their choices and preferences."""
        self._run("DELETE FROM channel_choices WHERE session = ?", (session,))
        self._run("DELETE FROM channel_prefs WHERE session = ?", (session,))

    # -- WeChat: answers that went by customer-service message ---------------------------------------
    def mark_late(self, session: str, key: str) -> None:
        now = self.clock()
        self._run("INSERT OR IGNORE INTO channel_late (session, key, at) VALUES (?, ?, ?)",
                  (session, key, now))
        self._run("DELETE FROM channel_late WHERE at < ?", (now - LATE_SECONDS,))

    def is_late(self, session: str, key: str) -> bool:
        return bool(self._run("SELECT 1 FROM channel_late WHERE session = ? AND key = ?", (session, key)))

    # -- key-value with expiry (wechatpy's SessionStorage protocol) -----------------------------------
    def get(self, key: str, default: Any = None, fresh_for: float = 0.0) -> Any:
        """The value, or ``default`` when absent or expiring within ``fresh_for`` seconds."""
        rows = self._run("SELECT value, expires_at FROM channel_kv WHERE key = ?", (key,))
        if not rows:
            return default
        value, expires_at = rows[0]
        if expires_at is not None and expires_at - fresh_for <= self.clock():
            return default
        return value

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        expires = self.clock() + ttl if ttl else None
        self._run("INSERT INTO channel_kv (key, value, expires_at) VALUES (?, ?, ?)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                  (key, str(value), expires))

    def delete(self, key: str) -> None:
        self._run("DELETE FROM channel_kv WHERE key = ?", (key,))
