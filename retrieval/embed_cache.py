"""Passage vectors cached by content, so a rebuild, a re-import or a refresh embeds only what changed.

Embedding is the slow part of indexing (a few hundred passages a second here; 100k passages take minutes),
and most of it repeats: a rebuild re-reads the same passages, a re-imported document keeps most of its
sections, a guide edited in one field keeps the others.  ``EmbeddingCache`` keeps each vector under
(model name, SHA-256 of the exact text embedded) in one SQLite file beside the index generations
(``<index>/embeddings.db``), outside them, so it survives a rebuild.  A full build prunes the vectors no
passage uses any more, which keeps the file the size of the corpus.

Progress: embedding more than ``PROGRESS_FROM`` texts shows a bar with an ETA on stderr (tqdm; on a
terminal it redraws, in a log it writes a line every ``LOG_INTERVAL`` seconds).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

CACHE_FILE = "embeddings.db"
PROGRESS_FROM = 500  # texts to embed before a progress bar is worth showing
LOG_INTERVAL = 10.0  # seconds between progress lines when stderr is not a terminal
_LOOKUP = 500  # hashes per SELECT … IN (…)


def content_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors of one model by content hash; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path, model: str, dim: int) -> None:
        self.path, self.model, self.dim = path, model, dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, hash BLOB NOT NULL, "
                         "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID")
        self._lock = threading.Lock()
        self.hits = self.misses = 0  # texts found / embedded, over this object's life

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM vectors WHERE model = ?", (self.model,)).fetchone()
        return int(row[0])

    def _lookup(self, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for start in range(0, len(unique), _LOOKUP):
                part = unique[start:start + _LOOKUP]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT hash, vec FROM vectors WHERE model = ? AND dim = ? AND hash IN ({marks})",
                    (self.model, self.dim, *part))
                for digest, blob in rows:
                    found[bytes(digest)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _store(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(self.model, digest, self.dim, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
                for digest, vec in items]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def encode(self, embedder: Any, texts: Sequence[str], desc: str = "embedding") -> np.ndarray:
        """Vectors of ``texts`` (float32, rows as the embedder gives them): cached ones read, the others
        embedded (with a progress bar when there are many) and stored."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        hashes = [content_hash(t) for t in texts]
        found = self._lookup(hashes)
        todo: dict[bytes, int] = {}  # hash -> first position of a text to embed
        for i, digest in enumerate(hashes):
            if digest not in found and digest not in todo:
                todo[digest] = i
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            found.update(self._embed(embedder, [texts[i] for i in todo.values()], list(todo), desc))
        for i, digest in enumerate(hashes):
            out[i] = found[digest]
        return out

    def _embed(self, embedder: Any, texts: list[str], hashes: list[bytes], desc: str) -> dict[bytes, Any]:
        from tqdm import tqdm

        tty = sys.stderr.isatty()
        bar = tqdm(total=len(texts), desc=desc, unit="passage", file=sys.stderr,
                   disable=len(texts) < PROGRESS_FROM, mininterval=0.5 if tty else LOG_INTERVAL,
                   dynamic_ncols=tty)
        vectors: dict[bytes, np.ndarray] = {}
        step = 2048  # store as we go: an interrupted build keeps what it embedded
        # an embedder with worker processes (retrieval.use_encoder) keeps them for the whole loop
        session = embedder.batch() if callable(getattr(embedder, "batch", None)) else nullcontext()
        try:
            with session:
                for start in range(0, len(texts), step):
                    part = texts[start:start + step]
                    if getattr(embedder, "reports_progress", False):  # it reports each micro-batch
                        vecs = embedder.encode(part, progress=bar.update)
                    else:
                        vecs = embedder.encode(part)
                        bar.update(len(part))
                    pairs = list(zip(hashes[start:start + step], vecs, strict=True))
                    self._store(pairs)
                    vectors.update(pairs)
        finally:
            bar.close()
        return vectors

    def prune(self, keep_texts: Iterable[str]) -> int:
        """Delete this model's vectors whose text is not in ``keep_texts``; returns how many went."""
        keep = {content_hash(t) for t in keep_texts}
        with self._lock:
            stored = [bytes(r[0]) for r in self._db.execute(
                "SELECT hash FROM vectors WHERE model = ?", (self.model,))]
            doomed = [(self.model, h) for h in stored if h not in keep]
            if doomed:
                self._db.execute("BEGIN")
                self._db.executemany("DELETE FROM vectors WHERE model = ? AND hash = ?", doomed)
                self._db.execute("COMMIT")
        return len(doomed)
