"""Where the indexes live on disk, and how they change without a reader ever seeing half of a change.

Layout of ``<home>/index``::

    CURRENT                  one line: the name of the generation readers use, e.g. "gen-7"
    build.lock               held (flock) by whoever is building or updating
    gen-7/meta.json          generation, change_seq (archive seq reflected), components, free-form keys
    gen-7/dense-0/           one directory per component (dense, lexical, passages, ...)
    gen-7/lexical-0/
    gen-7/fitness.json       small files written with write_json (atomic)

* A **full build** writes a new generation directory, fsyncs it, then swaps ``CURRENT`` with ``os.replace``.
  If the build raises (or the process dies) before the swap, ``CURRENT`` still names the old generation and
  the half-written directory is never read; the next successful build removes it.
* An **incremental update** (documents published or expired) writes each changed component into a fresh
  directory inside the current generation (``dense-3``), then replaces ``meta.json`` in one ``os.replace``
  so it names the new directories and the new ``change_seq`` together.  Superseded component directories
  are kept for one more update so that a reader that has just read the old ``meta.json`` can still open
  them.

Usage (the ``Retriever``)::

    with store.build(change_seq=seq) as tx:             # full rebuild
        dense.save(tx.component_dir("dense"))
        lexical.save(tx.component_dir("lexical"))
        tx.write_json("fitness.json", report.to_dict())
    with store.update(change_seq=new_seq) as tx:        # incremental
        dense.save(tx.component_dir("dense"))
    snap = store.snapshot()   -> None before the first build; else one consistent view:
    snap.component("dense")   -> Path of the current dense directory
    snap.change_seq           -> the archive seq to pass to archive.changes_since
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

CURRENT, LOCK, META = "CURRENT", "build.lock", "meta.json"
_GEN = re.compile(r"^gen-(\d+)$")
T = TypeVar("T")


def fsync_path(path: Path) -> None:
    """fsync a file, or a directory's entries."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fsync_path(Path(dirpath) / name)
        fsync_path(Path(dirpath))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


@dataclass
class Transaction:
    """One full build (into a new generation) or one incremental update (of the current generation)."""

    path: Path  # the generation directory written to
    generation: int
    incremental: bool
    meta: dict[str, Any]
    new_components: dict[str, str] = field(default_factory=dict)

    def component_dir(self, name: str) -> Path:
        """A fresh, empty directory for component ``name``; current once the transaction commits."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"component name {name!r}: lower-case letters, digits and _ only")
        if name in self.new_components:
            return self.path / self.new_components[name]
        n = 0
        while (self.path / f"{name}-{n}").exists():
            n += 1
        folder = self.path / f"{name}-{n}"
        folder.mkdir()
        self.new_components[name] = folder.name
        return folder

    def write_json(self, name: str, obj: Any) -> None:
        """A small JSON file next to the components (atomic: safe during incremental updates too)."""
        atomic_write_json(self.path / name, obj)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the current generation: its directory and the meta.json read once."""

    path: Path
    meta: dict[str, Any]

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation", 0))

    @property
    def change_seq(self) -> int:
        return int(self.meta.get("change_seq", 0))

    def component(self, name: str) -> Path | None:
        folder = self.meta.get("components", {}).get(name)
        return self.path / folder if folder else None

    def file(self, name: str) -> Path:
        return self.path / name


class IndexStore:
    """Generations of the index under one directory, swapped atomically (see the module docstring)."""

    def __init__(self, index_dir: Path, keep: int = 1) -> None:
        self.root = Path(index_dir)
        self.keep = keep  # previous generations kept after a swap, for readers that are still opening them

    # reading --------------------------------------------------------------------------------------
    def current(self) -> Path | None:
        """The generation directory readers should use, or None before the first build."""
        try:
            name = (self.root / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if _GEN.match(name) and (path / META).exists() else None

    def snapshot(self) -> Snapshot | None:
        """Read CURRENT and its meta.json once; open every component through this one snapshot."""
        for _attempt in range(5):
            gen = self.current()
            if gen is None:
                if not (self.root / CURRENT).exists():
                    return None
                continue  # CURRENT named a generation removed meanwhile: read CURRENT again
            try:
                return Snapshot(gen, json.loads((gen / META).read_text(encoding="utf-8")))
            except FileNotFoundError:
                continue
        return None

    def read(self, load: Callable[[Snapshot], T]) -> T | None:
        """``load(snapshot)`` for the current generation, retried if a swap or update removed files under it.

        None before the first build.  Readers that load all their files through one call never mix
        components of two generations.
        """
        for attempt in range(5):
            snap = self.snapshot()
            if snap is None:
                return None
            try:
                return load(snap)
            except FileNotFoundError:
                if attempt == 4:  # not a swap race: the index is damaged
                    raise
        return None

    def read_meta(self) -> dict[str, Any]:
        """meta.json of the current generation ({} when there is none)."""
        snap = self.snapshot()
        return dict(snap.meta) if snap else {}

    def write_meta(self, **changes: Any) -> None:
        """Set free-form keys in the current generation's meta.json (atomically, under the lock)."""
        with self.update(**changes):
            pass

    def component(self, name: str) -> Path | None:
        """The current directory of component ``name``, or None."""
        snap = self.snapshot()
        return snap.component(name) if snap else None

    def change_seq(self) -> int:
        snap = self.snapshot()
        return snap.change_seq if snap else 0

    def generations(self) -> list[int]:
        if not self.root.exists():
            return []
        found = (_GEN.match(p.name) for p in self.root.iterdir() if p.is_dir())
        return sorted(int(m.group(1)) for m in found if m)

    # writing --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def build(self, change_seq: int = 0, **meta: Any) -> Iterator[Transaction]:
        """A full build into a new generation; committed (swapped in) when the block exits normally."""
        with self._locked():
            number = max(self.generations(), default=0) + 1
            path = self.root / f"gen-{number}"
            path.mkdir()
            tx = Transaction(path, number, incremental=False,
                             meta={**meta, "change_seq": change_seq, "components": {}})
            try:
                yield tx
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            self._commit_build(tx)

    @contextlib.contextmanager
    def update(self, change_seq: int | None = None, **meta: Any) -> Iterator[Transaction]:
        """An in-place update of the current generation; raises FileNotFoundError when there is none."""
        with self._locked():
            gen = self.current()
            if gen is None:
                raise FileNotFoundError(f"no index generation in {self.root}: build one first")
            old = json.loads((gen / META).read_text(encoding="utf-8"))
            merged = {**old, **meta}
            if change_seq is not None:
                merged["change_seq"] = change_seq
            tx = Transaction(gen, int(old["generation"]), incremental=True, meta=merged)
            try:
                yield tx
            except BaseException:
                for folder in tx.new_components.values():
                    shutil.rmtree(gen / folder, ignore_errors=True)
                raise
            self._commit_update(tx, old)

    def _commit_build(self, tx: Transaction) -> None:
        tx.meta["components"] = dict(tx.new_components)
        tx.meta.update(generation=tx.generation, built_at=_now(), updated_at=_now())
        atomic_write_json(tx.path / META, tx.meta)
        fsync_tree(tx.path)
        atomic_write(self.root / CURRENT, f"{tx.path.name}\n".encode())
        self._cleanup(tx.generation)

    def _commit_update(self, tx: Transaction, old: dict[str, Any]) -> None:
        for folder in tx.new_components.values():
            fsync_tree(tx.path / folder)
        old_components: dict[str, str] = old.get("components", {})
        components = {**old_components, **tx.new_components}
        superseded = {old_components[n] for n in tx.new_components if n in old_components}
        tx.meta.update(components=components, updated_at=_now(),
                       superseded=sorted(superseded - set(components.values())))
        atomic_write_json(tx.path / META, tx.meta)
        # the previous update's superseded directories have had one full update to drain their readers
        for folder in set(old.get("superseded", [])) - set(components.values()):
            shutil.rmtree(tx.path / folder, ignore_errors=True)

    def _cleanup(self, current: int) -> None:
        """Remove failed builds and all but ``keep`` generations older than ``current``."""
        finished = [g for g in self.generations() if (self.root / f"gen-{g}" / META).exists()]
        older = [g for g in finished if g < current]
        doomed = older[:-self.keep] if self.keep else older
        for g in self.generations():
            unfinished = g > current or not (self.root / f"gen-{g}" / META).exists()
            if g != current and (g in doomed or unfinished):
                shutil.rmtree(self.root / f"gen-{g}", ignore_errors=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
