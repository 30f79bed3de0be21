"""The document archive: one SQLite file (WAL) through sqlite-utils.

Tables:
  documents     the current version of each document (one row per id)
  versions      every version of every document, current included (history = this table, oldest first)
  changes       a monotonically increasing change sequence: one row per new document version, so
                retrieval can refresh its index incrementally with ``changes_since(seq)``
  applications  applications (办件) for the status check; the phone is kept only as a salted hash
  meta          per-archive settings such as the phone-hash salt
  documents_fts an FTS5 index (trigram tokenizer: substrings, so Chinese needs no word segmentation) of the
                text fields a listing's words are looked for in, one row per current document (its rowid is
                the document row's); written by ``_write_version`` in the same transaction, so it never
                drifts from ``documents``, and filled from ``documents`` when an older archive is opened
  documents_listing  the columns a listing filters and orders by, one narrow row per document keyed by the
                document row's rowid: a word index's matches are checked here, not in the wide rows
  documents_bigrams  the same fields as one- and two-character tokens (「户口本」 -> 户 口 本 户口 口本;
                letters and digits only, lower-cased), contentless: answers a one- or two-character word,
                which a trigram index cannot; kept and filled the same way (a replaced row's old tokens are
                deleted by value; meta short_word_index names its layout, another one is rebuilt)

Writes use plain SQL inside ``transaction()`` (sqlite-utils' write helpers commit on their own, which
would break an all-or-nothing batch); the schema and reads go through sqlite-utils.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.models import TRANSITIONS, Application, DocType, Document, Status, StepEvent
from core.errors import InvalidInput, NotFound

SCHEMA_VERSION = "1"
_LIST_FIELDS = frozenset({"keywords", "materials", "steps", "extracted"})
_DOC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Document))
_APP_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Application))
# catalog elements a listing filters by exactly, and the text fields its words are looked for in
_FACETS = ("issuer", "topic", "genre", "audience")
_TEXT_SEARCHED = ("title", "body", "doc_no", "index_no", "keywords", "summary")
# the trigram index answers a word of at least this many characters; a shorter one is looked for by a scan
FTS_MIN_CHARS = 3
_TEXT_COLUMNS = ", ".join(_TEXT_SEARCHED)
_LISTED = ("id", "status", "type", *_FACETS, "issued_on", "valid_from", "valid_until")
_LISTED_COLUMNS = ", ".join(_LISTED)


def bigrams(text: str) -> str:
    """The tokens of ``text`` the short-word index holds, space-separated: every letter or digit, and every
    two adjacent ones."""
    low = text.lower()
    singles = [c for c in low if c.isalnum()]
    pairs = [low[i:i + 2] for i in range(len(low) - 1) if low[i].isalnum() and low[i + 1].isalnum()]
    return " ".join(singles + pairs)


def _is_bigram_word(word: str) -> bool:
    return len(word) <= 2 and word.isalnum()


SHORT_WORD_INDEX = "2"  # the meta value of the short-word index's layout; another value rebuilds it
ORDERS = ("id", "newest")  # search_documents: by id, or newest 发文日期 first (then id, descending)


class Change(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


# What a document list can be narrowed by (the admin console's filters); empty means "any".
VALIDITIES = ("current", "expired", "abolished")


@dataclass(frozen=True)
class DocQuery:
    """A filtered listing: ``text`` words (all must occur in the title, body, 文号, 索引号, keywords or
    summary), exact catalog elements, 文号 and 索引号 fragments (case-insensitive substrings of that
    element), an issued-on range (ISO, inclusive), any of ``statuses`` and a validity on ``today``:
    current = ``Document.is_current``; expired = status expired, or published with its validity past;
    abolished = status abolished."""

    text: str = ""
    type: str = ""
    status: str = ""
    issuer: str = ""
    topic: str = ""
    genre: str = ""
    audience: str = ""
    issued_from: str = ""
    issued_to: str = ""
    validity: str = ""
    today: str = ""
    doc_no: str = ""
    index_no: str = ""
    statuses: tuple[str, ...] = ()
    # 四级资源共享: only documents shared from this level ("local" = this instance's own), and never those of
    # a switched-off origin (archive/peers.py: ``hidden_origins``)
    origin_level: str = ""
    hidden_origins: tuple[str, ...] = ()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _doc_row(doc: Document) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in _DOC_FIELDS:
        value = getattr(doc, name)
        if name in _LIST_FIELDS:
            value = json.dumps(list(value), ensure_ascii=False)
        elif isinstance(value, StrEnum):
            value = value.value
        row[name] = value
    return row


def _row_doc(row: dict[str, Any]) -> Document:
    values: dict[str, Any] = {}
    for name in _DOC_FIELDS:
        value = row.get(name)
        if name in _LIST_FIELDS:
            value = json.loads(value) if value else []
        elif name == "type":
            value = DocType(str(value))
        elif name == "status":
            value = Status(str(value))
        elif name == "version":
            value = int(value or 0)
        elif value is None:
            value = ""
        values[name] = value
    return Document(**values)


def _app_content(app: Application) -> dict[str, Any]:
    data = asdict(app)
    data["history"] = [asdict(e) if not isinstance(e, dict) else e for e in app.history]
    return data


def _row_app(row: dict[str, Any]) -> Application:
    values: dict[str, Any] = {name: row.get(name) or "" for name in _APP_FIELDS}
    values["history"] = [StepEvent(**e) for e in json.loads(row.get("history") or "[]")]
    return Application(**values)


class Archive:
    """The archive in one SQLite file; safe to share across threads (writes are serialised)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.enable_wal()
        self._lock = threading.RLock()
        self._depth = 0
        self._create_schema()
        self._salt = self._ensure_salt()

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create_schema(self) -> None:
        doc_cols: dict[str, Any] = {name: str for name in _DOC_FIELDS}
        doc_cols["version"] = int
        self.db.table("documents").create(
            {**doc_cols, "content_hash": str, "seq": int}, pk="id", if_not_exists=True
        )
        self.db.table("versions").create(
            {**doc_cols, "content_hash": str, "seq": int}, pk=("id", "version"), if_not_exists=True
        )
        self.db.table("changes").create(
            {"seq": int, "doc_id": str, "version": int, "at": str}, pk="seq", if_not_exists=True
        )
        # an archive written before a Document field existed gains its column (empty for the old rows)
        for table in ("documents", "versions"):
            have = set(self.db.table(table).columns_dict)
            for name in doc_cols:
                if name not in have:
                    self.db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] TEXT DEFAULT ''")
        app_cols: dict[str, Any] = {name: str for name in _APP_FIELDS}
        self.db.table("applications").create(
            {**app_cols, "content_hash": str, "updated_at": str}, pk="app_no", if_not_exists=True
        )
        self.db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
        for column in ("type", "status"):
            self.db.table("documents").create_index([column], if_not_exists=True)
        # every column a listing filters or orders by except the words: a filter is answered from this index
        # without reading the rows (each carries its body), and a page is picked before its rows are read
        self.db.table("documents").create_index(
            ["issued_on", "id", "status", "type", *_FACETS, "valid_from", "valid_until"],
            index_name="idx_documents_listing", if_not_exists=True,
        )
        self._create_fts()
        self.db.table("changes").create_index(["doc_id"], if_not_exists=True)
        if self.get_meta("schema_version") is None:
            self.set_meta("schema_version", SCHEMA_VERSION)

    def _create_fts(self) -> None:
        """The word indexes; an archive made before they existed gets them filled from its documents once."""
        columns = _TEXT_COLUMNS
        if not self.db["documents_fts"].exists():
            with self.transaction():
                self.db.execute(f"CREATE VIRTUAL TABLE documents_fts USING fts5({columns},"
                                " tokenize='trigram')")
                self.db.execute(
                    f"INSERT INTO documents_fts (rowid, {columns}) SELECT rowid, {columns} FROM documents"
                )
        if not self.db["documents_listing"].exists():
            with self.transaction():
                self.db.execute(
                    f"CREATE TABLE documents_listing (rowid INTEGER PRIMARY KEY, {_LISTED_COLUMNS})"
                )
                self.db.execute(f"INSERT INTO documents_listing (rowid, {_LISTED_COLUMNS})"
                                f" SELECT rowid, {_LISTED_COLUMNS} FROM documents")
        stale = self.get_meta("short_word_index") != SHORT_WORD_INDEX
        if self.db["documents_bigrams"].exists() and stale:
            with self.transaction():  # made by an earlier layout (pairs only): built again
                self.db.execute("DROP TABLE documents_bigrams")
        if not self.db["documents_bigrams"].exists():
            with self.transaction():
                self.db.execute(f"CREATE VIRTUAL TABLE documents_bigrams USING fts5({columns}, content='',"
                                " tokenize='unicode61 remove_diacritics 0')")
                last = -1
                while True:
                    rows = self._rows(f"SELECT rowid, {columns} FROM documents WHERE rowid > ? ORDER BY rowid"
                                      " LIMIT 1000", [last])
                    for row in rows:
                        self._bigrams_write(row["rowid"], row)
                    if len(rows) < 1000:
                        break
                    last = rows[-1]["rowid"]
                self.set_meta("short_word_index", SHORT_WORD_INDEX)

    def _bigrams_write(self, rowid: int, row: dict[str, Any], delete: bool = False) -> None:
        values = [bigrams(str(row[c] or "")) for c in _TEXT_SEARCHED]
        if delete:  # a contentless index forgets a row when told the tokens it was given
            self.db.execute(
                f"INSERT INTO documents_bigrams (documents_bigrams, rowid, {_TEXT_COLUMNS})"
                f" VALUES ('delete', ?{', ?' * len(values)})", [rowid, *values])
        else:
            self.db.execute(f"INSERT INTO documents_bigrams (rowid, {_TEXT_COLUMNS})"
                            f" VALUES (?{', ?' * len(values)})", [rowid, *values])

    def _ensure_salt(self) -> str:
        salt = self.get_meta("phone_salt")
        if salt is None:
            with self.transaction():
                salt = self.get_meta("phone_salt")
                if salt is None:
                    salt = secrets.token_hex(16)
                    self.set_meta("phone_salt", salt)
        return salt

    # -- transactions --------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Archive]:
        """All-or-nothing: every write inside lands together or not at all (nested calls are savepoints)."""
        with self._lock:
            conn = self.db.conn
            if self._depth == 0:
                conn.execute("BEGIN IMMEDIATE")
            else:
                conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute(f"ROLLBACK TO sp{self._depth}")
                    conn.execute(f"RELEASE sp{self._depth}")
                raise
            self._depth -= 1
            if self._depth == 0:
                conn.execute("COMMIT")
            else:
                conn.execute(f"RELEASE sp{self._depth}")

    def _insert(self, table: str, row: dict[str, Any], replace: bool = False) -> int:
        cols = list(row)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        names, marks = ", ".join(f"[{c}]" for c in cols), ", ".join("?" * len(cols))
        sql = f"{verb} INTO [{table}] ({names}) VALUES ({marks})"
        cursor = self.db.execute(sql, [row[c] for c in cols])
        return int(cursor.lastrowid or 0)

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run a read under the lock, so another thread never sees a batch that is still being written."""
        with self._lock:
            return list(self.db.query(sql, list(params)))

    # -- meta ----------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._insert("meta", {"key": key, "value": value}, replace=True)

    # -- documents -----------------------------------------------------------------------------------
    def find(self, doc_id: str) -> Document | None:
        rows = self._rows("SELECT * FROM documents WHERE id = ?", [doc_id])
        return _row_doc(rows[0]) if rows else None

    def get(self, doc_id: str) -> Document:
        doc = self.find(doc_id)
        if doc is None:
            raise NotFound(f"no document with id {doc_id!r}")
        return doc

    def upsert(self, doc: Document) -> Change:
        """Add a document or, when its content differs from the current version, add a new version.

        Identical content is a no-op.  The returned Change says which; ``doc.version`` and
        ``doc.updated_at`` are set to the stored values.
        """
        content_hash = _digest(doc.content())
        with self.transaction():
            rows = self._rows(
                "SELECT version, content_hash, updated_at FROM documents WHERE id = ?", [doc.id]
            )
            if rows and rows[0]["content_hash"] == content_hash:
                doc.version, doc.updated_at = int(rows[0]["version"]), rows[0]["updated_at"]
                return Change.UNCHANGED
            doc.version = int(rows[0]["version"]) + 1 if rows else 1
            self._write_version(doc, content_hash)
        return Change.CHANGED if rows else Change.ADDED

    def _write_version(self, doc: Document, content_hash: str) -> None:
        doc.updated_at = _now()
        seq = self._insert("changes", {"doc_id": doc.id, "version": doc.version, "at": doc.updated_at})
        row = {**_doc_row(doc), "content_hash": content_hash, "seq": seq}
        self._insert("versions", row)
        old = self._rows(f"SELECT rowid, {_TEXT_COLUMNS} FROM documents WHERE id = ?", [doc.id])
        rowid = self._insert("documents", row, replace=True)  # a replaced row gets a new rowid
        if old:
            self.db.execute("DELETE FROM documents_fts WHERE rowid = ?", [old[0]["rowid"]])
            self.db.execute("DELETE FROM documents_listing WHERE rowid = ?", [old[0]["rowid"]])
            self._bigrams_write(old[0]["rowid"], old[0], delete=True)
        self._bigrams_write(rowid, row)
        self.db.execute(f"INSERT INTO documents_listing (rowid, {_LISTED_COLUMNS})"
                        f" VALUES (?{', ?' * len(_LISTED)})", [rowid, *(row[c] for c in _LISTED)])
        names = ", ".join(_TEXT_SEARCHED)
        self.db.execute(
            f"INSERT INTO documents_fts (rowid, {names}) VALUES (?{', ?' * len(_TEXT_SEARCHED)})",
            [rowid, *(row[c] for c in _TEXT_SEARCHED)],
        )

    def set_status(
        self, doc_id: str, status: Status | str, reason: str = "", replaced_by: str = ""
    ) -> Document:
        """Move a document along its lifecycle (models.TRANSITIONS); the move is recorded as a new version."""
        try:
            target = Status(status)
        except ValueError as exc:
            raise InvalidInput(f"unknown status {status!r}") from exc
        with self.transaction():
            doc = self.get(doc_id)
            if target not in TRANSITIONS[doc.status]:
                allowed = ", ".join(sorted(s.value for s in TRANSITIONS[doc.status]))
                raise InvalidInput(
                    f"{doc_id}: cannot move from {doc.status.value} to {target.value} (allowed: {allowed})"
                )
            if replaced_by:
                if replaced_by == doc_id:
                    raise InvalidInput(f"{doc_id}: a document cannot replace itself")
                if self.find(replaced_by) is None:
                    raise InvalidInput(f"{doc_id}: replacement {replaced_by!r} is not in the archive")
            doc.status, doc.status_reason, doc.replaced_by = target, reason, replaced_by
            doc.version += 1
            self._write_version(doc, _digest(doc.content()))
        return doc

    def count(self, type: DocType | str | None = None, status: Status | str | None = None) -> int:
        where, params = self._filters(type, status)
        rows = self._rows(f"SELECT count(*) AS n FROM documents {where}", params)
        return int(rows[0]["n"])

    @staticmethod
    def _filters(type: DocType | str | None, status: Status | str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if type is not None:
            clauses.append("type = ?")
            params.append(DocType(type).value)
        if status is not None:
            clauses.append("status = ?")
            params.append(Status(status).value)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def iter_documents(
        self, statuses: Iterable[Status] | None = None, batch: int = 500
    ) -> Iterator[Document]:
        """Every current document ordered by id, read in batches (optionally only some statuses)."""
        wanted = [Status(s).value for s in statuses] if statuses is not None else None
        last = ""
        while True:
            sql, params = "SELECT * FROM documents WHERE id > ?", [last]
            if wanted is not None:
                if not wanted:
                    return
                sql += f" AND status IN ({', '.join('?' * len(wanted))})"
                params += wanted
            rows = self._rows(sql + " ORDER BY id LIMIT ?", [*params, batch])
            for row in rows:
                yield _row_doc(row)
            if len(rows) < batch:
                return
            last = rows[-1]["id"]

    def history(self, doc_id: str) -> list[Document]:
        """Every version of a document, oldest first, current last (NotFound when there is none)."""
        rows = self._rows("SELECT * FROM versions WHERE id = ? ORDER BY version", [doc_id])
        if not rows:
            raise NotFound(f"no document with id {doc_id!r}")
        return [_row_doc(r) for r in rows]

    def version(self, doc_id: str, version: int) -> Document:
        """One stored version of a document (NotFound when the document or that version does not exist)."""
        rows = self._rows("SELECT * FROM versions WHERE id = ? AND version = ?", [doc_id, int(version)])
        if not rows:
            raise NotFound(f"no version {version} of document {doc_id!r}")
        return _row_doc(rows[0])

    def facet_counts(self, column: str, statuses: Iterable[Status | str]) -> list[tuple[str, int]]:
        """(value, how many current documents in ``statuses`` have it) for one catalog element, by value
        (``origin_level`` too: the levels of shared documents)."""
        if column not in (*_FACETS, "origin_level"):
            raise InvalidInput(f"{column!r} is not a catalog element one can filter by")
        wanted = [Status(s).value for s in statuses]
        sql = (f"SELECT [{column}] AS v, count(*) AS n FROM documents WHERE [{column}] != ''"
               f" AND status IN ({', '.join('?' * len(wanted))}) GROUP BY 1 ORDER BY 1")
        return [(str(r["v"]), int(r["n"])) for r in self._rows(sql, wanted)]

    def distinct(self, column: str) -> list[str]:
        """The non-empty values of one catalog element over the current documents, sorted (for filters)."""
        if column not in _FACETS:
            raise InvalidInput(f"{column!r} is not a catalog element one can filter by")
        sql = f"SELECT DISTINCT [{column}] AS v FROM documents WHERE [{column}] != '' ORDER BY 1"
        return [str(r["v"]) for r in self._rows(sql)]

    @staticmethod
    def _index_terms(q: DocQuery) -> list[tuple[str, str]]:
        """(word index, MATCH expression) for each part of ``q`` a word index answers: a word of 3+
        characters and a 文号/索引号 fragment of 3+ (that column) by the trigram index, the same substring
        rule as ``instr``; a two-character word of letters or digits by the bigram index."""
        terms = []

        def phrase(value: str) -> str:  # FTS5 reads a NUL as the string's end ("unterminated string": a 500)
            return '"' + value.replace("\0", "").replace('"', '""') + '"'

        for word in q.text.split():
            if len(word) >= FTS_MIN_CHARS:
                terms.append(("documents_fts", phrase(word)))
            elif _is_bigram_word(word):
                terms.append(("documents_bigrams", '"' + word.lower() + '"'))
        for column in ("doc_no", "index_no"):
            value = getattr(q, column).strip()
            if len(value) >= FTS_MIN_CHARS:
                terms.append(("documents_fts", f"{column} : " + phrase(value)))
        return terms

    @staticmethod
    def _query_filters(q: DocQuery) -> tuple[str, list[Any]]:
        # ``+column`` keeps SQLite off the one-column type and status indexes, whose every hit reads a whole
        # row: idx_documents_listing answers those filters by itself (a test keeps the plan so)
        clauses: list[str] = []
        params: list[Any] = []
        for table, match in Archive._index_terms(q):
            clauses.append(f"rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)")
            params.append(match)
        for word in q.text.split():
            if len(word) >= FTS_MIN_CHARS or _is_bigram_word(word):
                continue  # in an index above
            needle = word.lower()
            clauses.append(
                "(" + " OR ".join(f"instr(lower([{c}]), ?) > 0" for c in _TEXT_SEARCHED) + ")"
            )
            params += [needle] * len(_TEXT_SEARCHED)
        for column in ("doc_no", "index_no"):
            value = getattr(q, column).strip()
            if value and len(value) < FTS_MIN_CHARS:
                clauses.append(f"instr(lower([{column}]), ?) > 0")
                params.append(value.lower())
        try:
            if q.type:
                clauses.append("+type = ?")
                params.append(DocType(q.type).value)
            if q.status:
                clauses.append("status = ?")
                params.append(Status(q.status).value)
            if q.statuses:
                wanted = [Status(s).value for s in q.statuses]
                clauses.append(f"+status IN ({', '.join('?' * len(wanted))})")
                params += wanted
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        for column in _FACETS:
            value = getattr(q, column)
            if value:
                clauses.append(f"[{column}] = ?")
                params.append(value)
        if q.origin_level:  # the listing table has no origin columns: asked of the documents by rowid
            clauses.append("rowid IN (SELECT rowid FROM documents WHERE origin_level = ?)")
            params.append("" if q.origin_level == "local" else q.origin_level)
        if q.hidden_origins:
            marks = ", ".join("?" * len(q.hidden_origins))
            clauses.append(f"rowid NOT IN (SELECT rowid FROM documents WHERE origin IN ({marks}))")
            params += list(q.hidden_origins)
        if q.issued_from:
            clauses.append("issued_on != '' AND issued_on >= ?")
            params.append(q.issued_from)
        if q.issued_to:
            clauses.append("issued_on != '' AND issued_on <= ?")
            params.append(q.issued_to)
        if q.validity:
            if q.validity not in VALIDITIES:
                raise InvalidInput(f"validity must be one of {', '.join(VALIDITIES)}, not {q.validity!r}")
            if not q.today:
                raise InvalidInput("a validity filter needs today's date")
            if q.validity == "current":  # Document.is_current, in SQL (a test keeps them in step)
                clauses.append(
                    "+status = 'published' AND (valid_from = '' OR valid_from <= ?)"
                    " AND (valid_until = '' OR valid_until >= ?)"
                )
                params += [q.today, q.today]
            elif q.validity == "expired":
                clauses.append(
                    "(+status = 'expired'"
                    " OR (+status = 'published' AND valid_until != '' AND valid_until < ?))"
                )
                params.append(q.today)
            else:
                clauses.append("+status = 'abolished'")
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def search_documents(
        self, q: DocQuery, limit: int = 50, offset: int = 0, order: str = "id"
    ) -> tuple[int, list[Document]]:
        """(how many match, one page of them) for a filtered listing (``DocQuery``), ordered by id or
        (``order="newest"``) newest 发文日期 first."""
        if order not in ORDERS:
            raise InvalidInput(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        where, params = self._query_filters(q)
        # a word index's matches are checked in the narrow documents_listing rows (a documents row carries
        # its body), unless a scan of the text is needed anyway
        narrow = bool(self._index_terms(q)) and not any(f"[{c}]" in where for c in _TEXT_SEARCHED)
        source = "documents_listing" if narrow else "documents"
        total = int(self._rows(f"SELECT count(*) AS n FROM {source} {where}", params)[0]["n"])
        by = "id" if order == "id" else "issued_on DESC, id DESC"
        # the page's rowids first (from the index where it can), then only those rows
        sql = (f"SELECT * FROM documents WHERE rowid IN (SELECT rowid FROM {source} {where}"
               f" ORDER BY {by} LIMIT ? OFFSET ?) ORDER BY {by}")
        return total, [_row_doc(r) for r in self._rows(sql, [*params, limit, offset])]

    def status_changes(
        self, to: Iterable[Status | str], shown: Iterable[Status | str], limit: int = 50
    ) -> list[Document]:
        """The latest versions that moved a document into one of ``to`` (its first version counts when it
        starts there), newest first, for documents whose current status is one of ``shown``."""
        moved, now = [Status(s).value for s in to], [Status(s).value for s in shown]
        sql = (
            "SELECT v.* FROM changes c JOIN versions v ON v.id = c.doc_id AND v.version = c.version"
            " LEFT JOIN versions p ON p.id = c.doc_id AND p.version = c.version - 1"
            " JOIN documents d ON d.id = c.doc_id"
            f" WHERE v.status IN ({', '.join('?' * len(moved))})"
            " AND (p.status IS NULL OR p.status != v.status)"
            f" AND d.status IN ({', '.join('?' * len(now))}) ORDER BY c.seq DESC LIMIT ?"
        )
        return [_row_doc(r) for r in self._rows(sql, [*moved, *now, limit])]

    def latest_change(self) -> int:
        """The sequence number of the latest change (0 for an empty archive): a cheap "has it changed?"."""
        return int(self._rows("SELECT coalesce(max(seq), 0) AS s FROM changes")[0]["s"])

    def changes_since(self, seq: int) -> tuple[int, list[str]]:
        """(latest change seq, ids of documents with a new version after ``seq``, in change order)."""
        latest = self.latest_change()
        rows = self._rows(
            "SELECT doc_id, max(seq) AS s FROM changes WHERE seq > ? GROUP BY doc_id ORDER BY s", [seq]
        )
        return int(latest), [r["doc_id"] for r in rows]

    def stats(self) -> dict[str, dict[str, int]]:
        def grouped(table: str, column: str) -> dict[str, int]:
            sql = f"SELECT [{column}] AS k, count(*) AS n FROM [{table}] GROUP BY 1 ORDER BY 1"
            return {r["k"]: int(r["n"]) for r in self._rows(sql)}

        apps = grouped("applications", "state")
        return {
            "documents": {
                "total": self.count(),
                "versions": self._rows("SELECT count(*) AS n FROM versions")[0]["n"],
            },
            "by_type": grouped("documents", "type"),
            "by_status": grouped("documents", "status"),
            "applications": {"total": sum(apps.values()), **apps},
        }

    # -- applications (办件) -------------------------------------------------------------------------
    def hash_phone(self, phone_last4: str) -> str:
        """Salted hash of the last four digits of a phone number (the salt is per archive)."""
        digest = hmac.new(self._salt.encode(), phone_last4.strip().encode(), hashlib.sha256)
        return digest.hexdigest()

    def upsert_application(self, app: Application, phone_last4: str | None = None) -> Change:
        """Add or update an application; pass ``phone_last4`` to (re)set its verification hash."""
        if phone_last4 is not None:
            app.phone_hash = self.hash_phone(phone_last4)
        content = _app_content(app)
        content_hash = _digest(content)
        with self.transaction():
            rows = self._rows("SELECT content_hash FROM applications WHERE app_no = ?", [app.app_no])
            if rows and rows[0]["content_hash"] == content_hash:
                return Change.UNCHANGED
            row = {**content, "history": json.dumps(content["history"], ensure_ascii=False)}
            self._insert(
                "applications", {**row, "content_hash": content_hash, "updated_at": _now()}, replace=True
            )
        return Change.CHANGED if rows else Change.ADDED

    def get_application(self, app_no: str) -> Application:
        rows = self._rows("SELECT * FROM applications WHERE app_no = ?", [app_no.strip()])
        if not rows:
            raise NotFound(f"no application with number {app_no!r}")
        return _row_app(rows[0])

    def verify_application(self, app_no: str, phone_last4: str) -> bool:
        """True when ``phone_last4`` matches the application's phone; False otherwise or if it is unknown."""
        rows = self._rows("SELECT phone_hash FROM applications WHERE app_no = ?", [app_no.strip()])
        if not rows or not rows[0]["phone_hash"]:
            return False
        candidate = phone_last4.strip()
        if len(candidate) != 4 or not candidate.isdigit():
            return False
        return hmac.compare_digest(rows[0]["phone_hash"], self.hash_phone(candidate))

    def list_applications(self, limit: int = 50, offset: int = 0) -> list[Application]:
        rows = self._rows("SELECT * FROM applications ORDER BY app_no LIMIT ? OFFSET ?", [limit, offset])
        return [_row_app(r) for r in rows]

    # defined last so that `list` in the annotations above still means the builtin
    def list(
        self,
        type: DocType | str | None = None,
        status: Status | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Document]:
        where, params = self._filters(type, status)
        sql = f"SELECT * FROM documents {where} ORDER BY id LIMIT ? OFFSET ?"
        return [_row_doc(r) for r in self._rows(sql, [*params, limit, offset])]
