"""Contact details a citizen gave (a phone, an ID number), kept apart from every transcript and encrypted at
rest.

When a message carries personal data, everything that stores or forwards the message gets it masked
(``core.pii``); a complaint still needs a way to call the citizen back.  So the items found are kept here, in
``app.db`` table ``contacts``, encrypted with Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``) under the
home's ``contact_key`` (``<home>/secrets.toml`` or ``CIVIC_CONTACT_KEY``), and shown only through the staff
API (``GET /api/staff/tickets/{id}/contact``).  Without the key a copy of ``app.db`` reveals nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError
from core.pii import Found

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, kinds TEXT NOT NULL,
    secret BLOB NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_session ON contacts(session, at);
"""
KEEP_PER_SESSION = 20


class ContactVault:
    def __init__(self, path: Path, key: str, clock: Callable[[], float] = time.time) -> None:
        if not key:
            raise ConfigError("contact_key is empty: it is generated into <home>/secrets.toml on first use")
        try:
            self._fernet = Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigError(f"contact_key is not a valid key (32 url-safe base64 bytes): {exc}") from exc
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def keep(self, session: str, found: list[Found]) -> None:
        """Store the personal data found in one message of ``session`` (encrypted)."""
        if not found:
            return
        items = [{"kind": f.kind, "value": f.text} for f in found]
        secret = self._fernet.encrypt(json.dumps(items, ensure_ascii=False).encode("utf-8"))
        kinds = ",".join(sorted({f.kind for f in found}))
        with self._lock:
            self._db.execute("INSERT INTO contacts (session, kinds, secret, at) VALUES (?, ?, ?, ?)",
                             [session, kinds, secret, self._clock()])
            self._db.execute(
                "DELETE FROM contacts WHERE session = ? AND id NOT IN"
                " (SELECT id FROM contacts WHERE session = ? ORDER BY id DESC LIMIT ?)",
                [session, session, KEEP_PER_SESSION])

    def contacts(self, session: str) -> list[dict[str, Any]]:
        """Every item kept for ``session``, oldest first, decrypted: ``{"kind", "value", "at"}``."""
        with self._lock:
            rows = self._db.execute("SELECT secret, at FROM contacts WHERE session = ? ORDER BY id",
                                    [session]).fetchall()
        out: list[dict[str, Any]] = []
        for secret, at in rows:
            try:
                items = json.loads(self._fernet.decrypt(secret).decode("utf-8"))
            except (InvalidToken, ValueError):
                continue  # written under another key: unreadable by design
            out.extend({"kind": i.get("kind"), "value": i.get("value"), "at": at} for i in items)
        return out
