"""Subscriptions to other instances' change feeds (四级资源共享) and the background sync that pulls them.

State (``Peers``, in ``app.db``):
  peers          one row per subscribed instance: its URL, level, label, whether it is on, the feed cursor
                 (the ``since`` of the next pull), the last attempt, the last success, the last error, the
                 failures in a row (the back-off), how many records it brought
  peer_problems  records of a peer that were not imported: a clash on 索引号 or 文号 with a local document
                 (never overwritten), or a record the catalog schema refuses; a row goes once the record
                 imports
The feed token of each peer is kept in ``<home>/peers/NAME.token`` (mode 0600), read from the file given to
``civic peers add``; it is never printed nor stored in app.db.

The sync (``PeerSync``, started in app/factory.py's start-up context): every ``peer_poll_seconds`` each
enabled peer whose back-off has passed is pulled page by page until its feed has nothing more; each page is
imported (``archive.peers.import_record``, on the thread pool) and then the cursor moves past it, so a crash
between the two only pulls the page again, and the import of an identical record changes nothing (no duplicate
version).  A failure (the peer down, a 401, a malformed page) is recorded and the peer waits
``poll × 2^failures`` seconds (at most ``MAX_BACKOFF``) before the next try, resuming at its cursor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from app.keys import ARCHIVE, SETTINGS
from archive import peers as sharing
from archive.catalog import CatalogError
from archive.store import Archive
from core.appdb import AppDb
from core.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, level TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1, cursor INTEGER NOT NULL DEFAULT 0,
    peer_latest INTEGER NOT NULL DEFAULT 0, last_attempt TEXT NOT NULL DEFAULT '',
    last_sync TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0, imported INTEGER NOT NULL DEFAULT 0, added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS peer_problems (
    peer TEXT NOT NULL, remote_id TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL DEFAULT '',
    local_id TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL, PRIMARY KEY (peer, remote_id, kind)
);
"""
PAGE = 200  # records asked for per pull
MAX_PAGES = 50  # pages per peer per round (another round follows at once when the feed has more)
MAX_BACKOFF = 60.0  # a peer back after a long outage is pulled again within a minute (the 60 s target)
TIMEOUT = 30.0
CLASH_KINDS = ("index_no", "doc_no")
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_peer_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 40 or not set(name) <= _NAME_CHARS or not name[0].isalnum():
        raise InvalidInput(f"a peer name is 1-40 of a-z, 0-9, - and _ (starting with a letter or digit), "
                           f"not {name!r}")
    return name


def check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"a peer URL starts with http:// or https://, not {url!r}")
    return url


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    level: str
    label: str
    enabled: bool
    cursor: int
    peer_latest: int
    last_attempt: str
    last_sync: str
    last_error: str
    failures: int
    imported: int
    clashes: int = 0
    rejected: int = 0

    @property
    def origin(self) -> sharing.Origin:
        return sharing.Origin(self.name, self.label, self.level, hidden=not self.enabled)

    def to_json(self) -> dict[str, Any]:
        """What /healthz and ``civic peers status`` show (never the token)."""
        return {"url": self.url, "level": self.level, "label": self.label, "enabled": self.enabled,
                "cursor": self.cursor, "peer_latest": self.peer_latest, "last_attempt": self.last_attempt,
                "last_sync": self.last_sync, "last_error": self.last_error, "failures": self.failures,
                "imported": self.imported, "clashes": self.clashes, "rejected": self.rejected}


@dataclass(frozen=True)
class Problem:
    peer: str
    remote_id: str
    kind: str  # index_no | doc_no (a clash) | invalid
    value: str
    local_id: str
    title: str
    detail: str
    seen_at: str


class Peers:
    """The subscriptions in ``app.db`` and the peers' tokens in ``tokens_dir``; each change of a peer's
    label, level or state is mirrored to the archive's origins (``archive.peers.set_origin``)."""

    def __init__(self, app_db: Path | str, tokens_dir: Path, archive: Archive | None = None) -> None:
        self._store = AppDb(app_db, SCHEMA)
        self.tokens_dir = tokens_dir
        self.archive = archive

    def close(self) -> None:
        self._store.close()

    # -- subscriptions ---------------------------------------------------------------------------------
    def _token_path(self, name: str) -> Path:
        return self.tokens_dir / f"{name}.token"

    def token(self, name: str) -> str:
        try:
            return self._token_path(name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise NotFound(f"no feed token for peer {name!r} ({exc.strerror})") from exc

    def add(self, name: str, url: str, level: str, token: str, label: str = "", since: int = 0) -> Peer:
        """Subscribe; ``since`` > 0 skips the peer's changes up to it (both instances seeded from the same
        corpus, say: its copies would only clash with the local ones)."""
        name, url, level = check_peer_name(name), check_url(url), sharing.check_level(level)
        token, label = token.strip(), label.strip()
        if not token or any(c.isspace() for c in token):
            raise InvalidInput("the token file must hold one token (no spaces), and not be empty")
        if len(label) > 80:
            raise InvalidInput("a label is at most 80 characters")
        with self._store.tx() as db:
            if db.execute("SELECT 1 FROM peers WHERE name = ?", [name]).fetchone():
                raise InvalidInput(f"a peer named {name!r} exists already")
            db.execute("INSERT INTO peers (name, url, level, label, cursor, added_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", [name, url, level, label, max(0, int(since)), _now()])
        self.tokens_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tokens_dir, 0o700)
        path = self._token_path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        os.chmod(path, 0o600)
        peer = self.get(name)
        self._mirror(peer)
        return peer

    def _mirror(self, peer: Peer) -> None:
        if self.archive is not None:
            sharing.set_origin(self.archive, peer.origin)

    def get(self, name: str) -> Peer:
        found = [p for p in self.listing() if p.name == name]
        if not found:
            raise NotFound(f"no peer named {name!r}")
        return found[0]

    def listing(self) -> list[Peer]:
        counts: dict[tuple[str, bool], int] = {}
        for r in self._store.rows("SELECT peer, kind IN ('index_no', 'doc_no') AS clash, count(*) AS n"
                                  " FROM peer_problems GROUP BY 1, 2"):
            counts[(r["peer"], bool(r["clash"]))] = int(r["n"])
        out = []
        for r in self._store.rows("SELECT * FROM peers ORDER BY name"):
            values = {k: v for k, v in dict(r).items() if k != "added_at"}
            values["enabled"] = bool(values["enabled"])
            out.append(Peer(**values, clashes=counts.get((r["name"], True), 0),
                            rejected=counts.get((r["name"], False), 0)))
        return out

    def set_enabled(self, name: str, enabled: bool) -> Peer:
        with self._store.tx() as db:
            cur = db.execute("UPDATE peers SET enabled = ?, failures = 0 WHERE name = ?",
                             [int(enabled), name])
            if not cur.rowcount:
                raise NotFound(f"no peer named {name!r}")
        peer = self.get(name)
        self._mirror(peer)
        return peer

    def remove(self, name: str) -> None:
        """Forget the subscription and its token; its documents stay in the archive, hidden (there is no
        deletion in the archive): adding the peer again under the same name shows them again."""
        peer = self.get(name)
        with self._store.tx() as db:
            db.execute("DELETE FROM peers WHERE name = ?", [name])
            db.execute("DELETE FROM peer_problems WHERE peer = ?", [name])
        self._token_path(name).unlink(missing_ok=True)
        if self.archive is not None:
            sharing.set_origin(self.archive, sharing.Origin(peer.name, peer.label, peer.level, hidden=True))

    def resync(self, name: str) -> Peer:
        """Pull the peer's whole feed again from the start (identical records change nothing)."""
        with self._store.tx() as db:
            cur = db.execute("UPDATE peers SET cursor = 0, failures = 0 WHERE name = ?", [name])
            if not cur.rowcount:
                raise NotFound(f"no peer named {name!r}")
        return self.get(name)

    def problems(self, name: str | None = None, limit: int = 100) -> list[Problem]:
        sql, params = "SELECT * FROM peer_problems", []
        if name is not None:
            sql, params = sql + " WHERE peer = ?", [name]
        rows = self._store.rows(sql + " ORDER BY seen_at DESC, peer, remote_id LIMIT ?", [*params, limit])
        return [Problem(**dict(r)) for r in rows]

    # -- what the sync records -------------------------------------------------------------------------
    def attempted(self, name: str, error: str = "") -> None:
        with self._store.tx() as db:
            if error:
                db.execute("UPDATE peers SET last_attempt = ?, last_error = ?, failures = failures + 1"
                           " WHERE name = ?", [_now(), error[:500], name])
            else:
                db.execute("UPDATE peers SET last_attempt = ?, last_sync = ?, last_error = '', failures = 0"
                           " WHERE name = ?", [_now(), _now(), name])

    def advance(self, name: str, cursor: int, peer_latest: int, imported: int,
                problems: list[Problem], resolved: list[str]) -> None:
        """The page is imported: move the cursor past it, count what it brought, keep its problems."""
        with self._store.tx() as db:
            db.execute("UPDATE peers SET cursor = ?, peer_latest = ?, imported = imported + ? WHERE name = ?",
                       [cursor, peer_latest, imported, name])
            for remote_id in resolved:
                db.execute("DELETE FROM peer_problems WHERE peer = ? AND remote_id = ?", [name, remote_id])
            for p in problems:
                db.execute("INSERT OR REPLACE INTO peer_problems (peer, remote_id, kind, value, local_id,"
                           " title, detail, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [p.peer, p.remote_id, p.kind, p.value, p.local_id, p.title, p.detail, p.seen_at])


# -- pulling -------------------------------------------------------------------------------------------
class FeedError(Exception):
    """A pull that failed: the peer down or refusing, or a page that is not the feed's."""


def parse_page(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(lines, trailer) of one feed page; the trailer (``next_since``) is the last line, and a page without
    it is incomplete (cut off): refused whole."""
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FeedError(f"line {n} of the feed is not JSON ({exc})") from exc
        if not isinstance(item, dict):
            raise FeedError(f"line {n} of the feed is not an object")
        lines.append(item)
    if not lines or "next_since" not in lines[-1]:
        raise FeedError("the feed page has no trailer (next_since): cut off?")
    trailer = lines.pop()
    if not isinstance(trailer.get("next_since"), int):
        raise FeedError("the feed page's next_since is not a number")
    return lines, trailer


def apply_page(archive: Archive, peers: Peers, peer: Peer, lines: list[dict[str, Any]],
               trailer: dict[str, Any], max_body_chars: int = 200_000) -> int:
    """Import one page (in a worker thread) and move the cursor; returns how many documents changed."""
    origin = peer.origin
    changed, problems, resolved = 0, [], []
    for line in lines:
        remote = str(line.get("id") or (line.get("record") or {}).get("id") or "")
        try:
            if line.get("withdrawn"):
                done = sharing.withdraw(archive, origin, remote)
            else:
                record = line.get("record")
                if not isinstance(record, dict):
                    raise InvalidInput("the line has no record")
                done = sharing.import_record(archive, origin, record, max_body_chars)
        except (CatalogError, InvalidInput) as exc:
            problems.append(Problem(peer.name, remote or "?", "invalid", "", "", "", str(exc)[:500], _now()))
            continue
        if done.clash is not None:
            c = done.clash
            problems.append(Problem(peer.name, c.remote_id, c.field, c.value, c.local_id, c.title,
                                    f"a local document ({c.local_id}) has the same {c.field}", _now()))
            continue
        resolved.append(remote)
        if done.change is not None and done.change.value != "unchanged":
            changed += 1
    peers.advance(peer.name, int(trailer["next_since"]), int(trailer.get("latest") or 0), changed,
                  problems, resolved)
    return changed


class PeerSync:
    """The background pull of every enabled peer (see the module's docstring)."""

    def __init__(self, peers: Peers, archive: Archive, poll_seconds: float, max_body_chars: int = 200_000
                 ) -> None:
        self.peers, self.archive = peers, archive
        self.poll = max(0.2, float(poll_seconds))
        self.max_body_chars = max_body_chars
        self._next: dict[str, float] = {}  # peer -> monotonic time of its next attempt (the back-off)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """The HTTP session alone (``round()`` by hand); ``start()`` runs the rounds in the background."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("peers: a sync round failed; the next one follows")
            await asyncio.sleep(self.poll)

    async def round(self) -> dict[str, int]:
        """Pull every enabled peer that is due; (peer -> documents changed)."""
        done: dict[str, int] = {}
        now = time.monotonic()
        for peer in await asyncio.to_thread(self.peers.listing):
            if not peer.enabled or self._next.get(peer.name, 0.0) > now:
                continue
            try:
                done[peer.name] = await self.pull(peer)
            except FeedError as exc:
                await asyncio.to_thread(self.peers.attempted, peer.name, str(exc))
                delay = min(MAX_BACKOFF, self.poll * 2 ** min(peer.failures + 1, 16))
                self._next[peer.name] = time.monotonic() + delay
                log.warning("peers: %s failed (%s); next try in %.0f s", peer.name, exc, delay)
                continue
            self._next.pop(peer.name, None)
            await asyncio.to_thread(self.peers.attempted, peer.name)
        return done

    async def pull(self, peer: Peer) -> int:
        """Pull ``peer`` from its cursor until its feed has nothing more (or MAX_PAGES pages)."""
        assert self._session is not None, "start() first"
        token = await asyncio.to_thread(self.peers.token, peer.name)
        changed, cursor = 0, peer.cursor
        for _ in range(MAX_PAGES):
            url = f"{peer.url}/api/catalog/changes"
            try:
                async with self._session.get(url, params={"since": str(cursor), "limit": str(PAGE)},
                                             headers={"Authorization": f"Bearer {token}"}) as resp:
                    if resp.status != 200:
                        why = " (the feed token is wrong or revoked)" if resp.status == 401 else ""
                        raise FeedError(f"{url} answered {resp.status}{why}")
                    text = await resp.text(encoding="utf-8")
            except (TimeoutError, aiohttp.ClientError, UnicodeDecodeError) as exc:
                raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from exc
            lines, trailer = parse_page(text)
            fresh = await asyncio.to_thread(self.peers.get, peer.name)
            if not fresh.enabled or fresh.cursor != cursor:  # switched off or re-synced meanwhile
                return changed
            changed += await asyncio.to_thread(apply_page, self.archive, self.peers, fresh, lines, trailer,
                                               self.max_body_chars)
            cursor = int(trailer["next_since"])
            if not trailer.get("more"):
                break
        return changed


PEERS: web.AppKey[Peers] = web.AppKey("peers", Peers)


async def open_peers(app: web.Application, stack: AsyncExitStack) -> None:
    """At start-up (app/factory.py): the subscriptions and, with an archive, the sync."""
    settings = app[SETTINGS]
    archive = app.get(ARCHIVE)
    peers = await asyncio.to_thread(Peers, settings.paths.app_db, settings.paths.peers_dir, archive)
    stack.callback(peers.close)
    app[PEERS] = peers
    if archive is None:
        return
    sync = PeerSync(peers, archive, settings.peer_poll_seconds, settings.max_body_chars)
    await sync.start()
    stack.push_async_callback(sync.stop)


async def peer_states(app: web.Application) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(name, state) of each peer, for /healthz."""
    peers = app.get(PEERS)
    if peers is None:
        return
    for peer in await asyncio.to_thread(peers.listing):
        yield peer.name, peer.to_json()
