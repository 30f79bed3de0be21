"""Who may use the consoles: users with one role each, their sign-in sessions, and API tokens (in ``app.db``).

Roles (``ROLES``): ``admin`` (users, settings; passes every role check), ``reviewer`` (approves or rejects
drafts), ``editor`` (writes documents, curates), ``staff`` (the hotline and hand-over console).

- Passwords are hashed with Argon2id (argon2-cffi); a password never appears on a command line.
- A session is a random id the browser holds in a signed cookie (app/admin/web.py); the server keeps a row per
  session (only the id's SHA-256), so a session can be revoked; an idle session ends after
  ``settings.admin_idle_minutes``. Each session carries its own CSRF token.
- Sign-in is refused after ``MAX_FAILURES`` failures within ``FAILURE_WINDOW`` seconds, counted per account
  and per client address, with a message that says when to try again.
- API tokens (``civic tokens add NAME --scope …``) are shown once and stored hashed; each has one scope.

Every method blocks (SQLite, Argon2): callers on the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.appdb import AppDb
from core.errors import AccessDenied, InvalidInput, NotFound, TooManyAttempts

ROLES = ("admin", "reviewer", "editor", "staff")
SCOPES = ("hotline", "feeds", "staff", "metrics")
MAX_FAILURES = 5
FAILURE_WINDOW = 5 * 60
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
MAX_NAME_CHARS = 64
TOKEN_PREFIX = "civ_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, csrf TEXT NOT NULL, ip TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, last_seen REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions(user_id);
CREATE TABLE IF NOT EXISTS sign_in_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sign_in_failures_key ON sign_in_failures(key, at);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, scope TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, last_used REAL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool = False
    created_at: float = 0.0

    def may(self, *roles: str) -> bool:
        """Whether this user holds one of ``roles`` (an admin holds them all)."""
        return not self.disabled and (self.role == "admin" or self.role in roles)


@dataclass(frozen=True)
class WebSession:
    user: User
    csrf: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    scope: str
    created_at: float
    last_used: float | None
    revoked: bool


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS or any(c.isspace() or not c.isprintable() for c in name):
        raise InvalidInput(f"a user or token name is 1-{MAX_NAME_CHARS} printable characters without spaces")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(f"a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long")
    return password


def _user(r: sqlite3.Row) -> User:
    return User(id=r["id"], name=r["name"], role=r["role"], disabled=bool(r["disabled"]),
                created_at=r["created_at"])


class Accounts:
    """Users, sessions, sign-in failures and API tokens in app.db."""

    def __init__(self, path: Path | str, idle_seconds: float = 30 * 60,
                 clock: Callable[[], float] = time.time, hasher: PasswordHasher | None = None) -> None:
        self._store = AppDb(path, _SCHEMA)
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        # verifying against this keeps an unknown name as slow as a wrong password
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    def close(self) -> None:
        self._store.close()

    # -- users ---------------------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> User:
        name, role = check_name(name), check_role(role)
        digest = self._hasher.hash(check_password(password))
        with self._store.tx() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
                raise InvalidInput(f"a user named {name!r} exists already")
            cur = db.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                             [name, role, digest, self._clock()])
        return User(id=int(cur.lastrowid or 0), name=name, role=role, created_at=self._clock())

    def get_user(self, name: str) -> User:
        rows = self._store.rows("SELECT * FROM users WHERE name = ?", [name])
        if not rows:
            raise NotFound(f"no user named {name!r}")
        return _user(rows[0])

    def list_users(self) -> list[User]:
        return [_user(r) for r in self._store.rows("SELECT * FROM users ORDER BY name")]

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        user = self.get_user(name)
        with self._store.tx() as db:
            db.execute("UPDATE users SET disabled = ? WHERE id = ?", [int(disabled), user.id])
            if disabled:
                db.execute("UPDATE web_sessions SET revoked = 1 WHERE user_id = ?", [user.id])
        return self.get_user(name)

    def reset_password(self, name: str, password: str) -> User:
        """A new password; every open session of the user ends."""
        user = self.get_user(name)
        digest = self._hasher.hash(check_password(password))
        with self._store.tx() as db:
            db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [digest, user.id])
            db.execute("UPDATE web_sessions SET revoked = 1 WHERE user_id = ?", [user.id])
            db.execute("DELETE FROM sign_in_failures WHERE key = ?", ["user:" + name])
        return user

    def set_role(self, name: str, role: str) -> User:
        user = self.get_user(name)
        with self._store.tx() as db:
            db.execute("UPDATE users SET role = ? WHERE id = ?", [check_role(role), user.id])
        return self.get_user(name)

    # -- sign-in -------------------------------------------------------------------------------------------
    @staticmethod
    def _failures(db: sqlite3.Connection, key: str, now: float) -> list[float]:
        rows = db.execute("SELECT at FROM sign_in_failures WHERE key = ? AND at > ? ORDER BY at",
                          [key, now - FAILURE_WINDOW]).fetchall()
        return [r[0] for r in rows]

    def authenticate(self, name: str, password: str, ip: str = "") -> User:
        """The user whose password this is; ``TooManyAttempts`` when the account or the address failed
        ``MAX_FAILURES`` times in the window (checked first, so a locked account reveals nothing), else
        ``AccessDenied`` with one message for every kind of wrong."""
        name = (name or "").strip()
        keys = ["user:" + name, "ip:" + ip]
        now = self._clock()
        with self._store.tx() as db:
            db.execute("DELETE FROM sign_in_failures WHERE at <= ?", [now - FAILURE_WINDOW])
            for key in keys:
                failures = self._failures(db, key, now)
                if len(failures) >= MAX_FAILURES:
                    minutes = max(1, math.ceil((failures[0] + FAILURE_WINDOW - now) / 60))
                    unit = "minutes" if minutes > 1 else "minute"
                    raise TooManyAttempts(f"too many failed sign-ins; try again in {minutes} {unit}")
            row = db.execute("SELECT * FROM users WHERE name = ?", [name]).fetchone()
        ok = False
        try:
            ok = self._hasher.verify(row["password_hash"] if row else self._decoy, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row["disabled"]:
            with self._store.tx() as db:
                for key in keys:
                    db.execute("INSERT INTO sign_in_failures (key, at) VALUES (?, ?)", [key, now])
            raise AccessDenied("the name or the password is wrong, or the account is disabled")
        with self._store.tx() as db:
            db.execute("DELETE FROM sign_in_failures WHERE key = ?", [keys[0]])
        return _user(row)

    # -- sessions ------------------------------------------------------------------------------------------
    def open_session(self, user: User, ip: str = "") -> tuple[str, str]:
        """A new session for ``user``: (session id for the cookie, its CSRF token)."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self._clock()
        with self._store.tx() as db:
            db.execute("INSERT INTO web_sessions (id_hash, user_id, csrf, ip, created_at, last_seen)"
                       " VALUES (?, ?, ?, ?, ?, ?)", [_sha256(sid), user.id, csrf, ip, now, now])
        return sid, csrf

    def session(self, sid: str) -> WebSession | None:
        """The live session with this id (its idle clock restarts), or None: unknown, revoked, idle too
        long, or its user disabled."""
        if not sid:
            return None
        now = self._clock()
        with self._store.tx() as db:
            row = db.execute(
                "SELECT s.csrf, s.created_at AS s_created, s.last_seen, s.revoked, u.* FROM web_sessions s"
                " JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?", [_sha256(sid)]).fetchone()
            if row is None or row["revoked"] or row["disabled"]:
                return None
            if now - row["last_seen"] > self.idle_seconds:
                db.execute("UPDATE web_sessions SET revoked = 1 WHERE id_hash = ?", [_sha256(sid)])
                return None
            db.execute("UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?", [now, _sha256(sid)])
        return WebSession(user=_user(row), csrf=row["csrf"], created_at=row["s_created"], last_seen=now)

    def close_session(self, sid: str) -> None:
        with self._store.tx() as db:
            db.execute("UPDATE web_sessions SET revoked = 1 WHERE id_hash = ?", [_sha256(sid)])

    # -- API tokens ----------------------------------------------------------------------------------------
    def add_token(self, name: str, scope: str) -> str:
        """A new token for an integration; returned once, stored only as its hash."""
        name = check_name(name)
        if scope not in SCOPES:
            raise InvalidInput(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._store.tx() as db:
            if db.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchone():
                raise InvalidInput(f"a token named {name!r} exists already")
            db.execute("INSERT INTO api_tokens (name, scope, token_hash, created_at) VALUES (?, ?, ?, ?)",
                       [name, scope, _sha256(token), self._clock()])
        return token

    def check_token(self, token: str, scope: str) -> ApiToken | None:
        """The live token of ``scope`` that this is, or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = _sha256(token)
        with self._store.tx() as db:
            row = db.execute("SELECT * FROM api_tokens WHERE token_hash = ?", [digest]).fetchone()
            if row is None or row["revoked"] or not hmac.compare_digest(row["scope"], scope):
                return None
            db.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", [self._clock(), row["id"]])
        return ApiToken(id=row["id"], name=row["name"], scope=row["scope"], created_at=row["created_at"],
                        last_used=self._clock(), revoked=False)

    def list_tokens(self) -> list[ApiToken]:
        return [ApiToken(id=r["id"], name=r["name"], scope=r["scope"], created_at=r["created_at"],
                         last_used=r["last_used"], revoked=bool(r["revoked"]))
                for r in self._store.rows("SELECT * FROM api_tokens ORDER BY name")]

    def revoke_token(self, name: str) -> None:
        with self._store.tx() as db:
            cur = db.execute("UPDATE api_tokens SET revoked = 1 WHERE name = ?", [name])
            if not cur.rowcount:
                raise NotFound(f"no token named {name!r}")
