"""`civic backup DEST` and `civic restore SRC HOME`: a home copied whole, consistent while the app serves.

What a backup holds (``manifest.json`` lists every file with its size, SHA-256 and what it is):

* every SQLite database of the home (``archive.db``, ``app.db``, ``tracker.db``, ``index/embeddings.db``, the
  hotline classifier's vectors, …; any file that starts with the SQLite header) copied through SQLite's
  online backup API in one step: a consistent snapshot, taken without stopping a writer (WAL mode);
* the **current** index generation only (``index/CURRENT`` and the components its ``meta.json`` names),
  copied under a shared lock on ``index/build.lock`` so that no build or update commits meanwhile, and
  *before* the archive: the archive copied afterwards is then at least as new as the index, and the restored
  app's live index catches up with the difference (``retrieval/live.py``) instead of showing documents the
  archive lacks;
* the **active** and the **previous** model only: the curation loop's ``active.json`` history when there is
  one (``app/curation/training.py``), else the model ``civic train`` made (``civic.train.current_model``) and
  the newest other one; other models (older ones, unactivated candidates, cached baselines) stay behind;
* everything else of the home: curated data, review lists, the hotline routing, originals, training files,
  ``civic.toml``; ``secrets.toml`` only with ``include_secrets``.  Runtime files (``logs/``, ``serve.json``,
  ``serve.lock``, lock files, SQLite ``-wal``/``-shm`` files) never.

A restore verifies every checksum before it writes anything, writes into ``HOME.restore-tmp`` and renames it
into place (a failure leaves no half home), rewrites the old home's absolute paths in the curation state and
in ``civic.toml`` (paths outside the old home are kept), and writes the models last, the active one last
of all (Rasa starts with the model created last).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.curation.store import ACTIVE_NAME, read_active
from civic.train import current_model
from core.errors import InvalidInput
from core.settings import HomePaths, Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MAGIC = b"SQLite format 3\x00"
CHUNK = 1024 * 1024
_RUNTIME = {"serve.lock", "serve.json", "logs"}  # top-level entries of a running server, never backed up
_SIDE_FILES = ("-wal", "-shm", "-journal")
_WHAT = {  # the first matching prefix of a path says what a file is
    "archive.db": "document archive: documents, versions, applications (SQLite)",
    "app.db": "conversations, tickets, hand-overs, history, contacts, accounts, audit log (SQLite)",
    "tracker.db": "Rasa tracker store (SQLite)",
    "index/embeddings.db": "passage vector cache (SQLite)",
    "index/CURRENT": "name of the current index generation",
    "index/": "current index generation",
    "models/fingerprint.json": "what the trained model was trained from",
    "models/": "Rasa model",
    "training/": "generated training data",
    f"curation/{ACTIVE_NAME}": "active model and its history",
    "curation/": "curated data and candidates",
    "review/": "review lists (negative list)",
    "hotline/routing.yml": "hotline routing table",
    "hotline/": "hotline classifier",
    "originals/": "original files of imported documents",
    "civic.toml": "settings",
    "secrets.toml": "secrets (tokens and keys)",
}


@dataclass(frozen=True)
class Item:
    rel: str  # path inside the home, with "/"
    src: Path
    kind: str  # "sqlite" | "file" | "model"


def describe(rel: str) -> str:
    for prefix, what in _WHAT.items():
        if rel == prefix or (prefix.endswith("/") and rel.startswith(prefix)):
            return what
    return "home file"


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _skipped(name: str) -> bool:
    return name.endswith(_SIDE_FILES) or name.endswith(".lock") or name.endswith(".tmp")


def chosen_models(settings: Settings) -> tuple[Path | None, Path | None]:
    """(active, previous) model files of the home; either may be None."""
    history = list(read_active(settings.paths.curation_dir).get("history") or [])
    existing = [Path(str(h.get("model"))) for h in history if Path(str(h.get("model"))).is_file()]
    if history and existing:
        active = Path(str(history[-1].get("model")))
        if active.is_file():
            older = [p for p in existing[:-1] if p != active]
            return active, (older[-1] if older else None)
    newest = current_model(settings)
    others = sorted((p for p in settings.paths.models_dir.glob("*.tar.gz") if p != newest),
                    key=lambda p: p.stat().st_mtime)
    return newest, (others[-1] if others else None)


def _walk(root: Path, home: Path, skip: Callable[[Path], bool] = lambda p: False) -> Iterator[Item]:
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(dirpath) / name
            if _skipped(name) or skip(path) or path.is_symlink():
                continue
            yield Item(path.relative_to(home).as_posix(), path, "sqlite" if is_sqlite(path) else "file")


def _index_items(paths: HomePaths) -> tuple[list[Item], int]:
    """The current generation's files (call under the shared build lock) and its number (0: none)."""
    index = paths.index_dir
    tops = sorted(index.iterdir()) if index.is_dir() else []
    items = [Item(p.relative_to(paths.root).as_posix(), p, "sqlite" if is_sqlite(p) else "file")
             for p in tops if p.is_file() and not _skipped(p.name)]
    try:
        name = (index / "CURRENT").read_text(encoding="utf-8").strip()
        meta = json.loads((index / name / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return items, 0
    gen = index / name
    current = set(meta.get("components", {}).values())
    for path in sorted(gen.iterdir()):
        if path.is_file() and not _skipped(path.name):
            items.append(Item(path.relative_to(paths.root).as_posix(), path, "file"))
        elif path.is_dir() and path.name in current:
            items.extend(_walk(path, paths.root))
    return items, int(meta.get("generation", 0))


def plan(settings: Settings, include_secrets: bool = False) -> tuple[list[Item], dict[str, Any]]:
    """What a backup of this home copies, except the index (copied under its lock), and facts for the
    manifest.  Order: index first (the caller), then the databases, the files, the models last."""
    paths = settings.paths
    home = paths.root
    active, previous = chosen_models(settings)
    models = [m for m in (previous, active) if m is not None]
    items: list[Item] = []
    for entry in sorted(home.iterdir()):
        if entry.name in _RUNTIME or entry == paths.index_dir or _skipped(entry.name):
            continue
        if entry == paths.secrets_file and not include_secrets:
            continue
        if entry.is_file():
            items.append(Item(entry.name, entry, "sqlite" if is_sqlite(entry) else "file"))
        elif entry.is_dir():
            # model archives are chosen, never swept up (old models, candidates, cached baselines)
            items.extend(_walk(entry, home, skip=lambda p: p.name.endswith(".tar.gz")))
    for model in models:
        if not model.resolve().is_relative_to(home.resolve()):
            raise InvalidInput(f"the model {model} lies outside the home {home}; "
                               f"copy it into {paths.models_dir}")
    items.sort(key=lambda i: (i.kind != "sqlite", i.rel))
    items += [Item(m.resolve().relative_to(home.resolve()).as_posix(), m, "model") for m in models]
    facts = {"models": {"active": active.name if active else None,
                        "previous": previous.name if previous else None,
                        "active_path": items[-1].rel if active else None}}
    return items, facts


class _Bar:
    """A byte progress bar with an estimate on stderr (tqdm, as the importers and the embedder use)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                        disable=not enabled, delay=0.5)

    def update(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_file(src: Path, dst: Path, bar: _Bar) -> str:
    """Copy ``src`` to ``dst`` (mode and times kept); the SHA-256 of what was written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            bar.update(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, dst)
    return digest.hexdigest()


def _copy_sqlite(src: Path, dst: Path, bar: _Bar) -> str:
    """SQLite's online backup API in one step: one read transaction, so a consistent snapshot, while
    writers go on (WAL).  A stepped backup would restart on every write of a busy app.db."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(str(src), timeout=30)
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            target.close()
    finally:
        source.close()
    shutil.copymode(src, dst)
    bar.update(src.stat().st_size)
    return sha256_file(dst)


def _copy(item: Item, dst: Path, bar: _Bar) -> str:
    return _copy_sqlite(item.src, dst, bar) if item.kind == "sqlite" else _copy_file(item.src, dst, bar)


@contextlib.contextmanager
def _index_lock(index_dir: Path) -> Iterator[None]:
    """Shared flock on build.lock: builds and updates (exclusive, retrieval/index_store.py) wait."""
    if not index_dir.is_dir():
        yield
        return
    with open(index_dir / "build.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _check_empty_target(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InvalidInput(f"{what} {path} exists and is not empty; choose a new or empty directory")


def _size(item: Item) -> int:
    try:
        return item.src.stat().st_size
    except OSError:
        return 0


def backup(settings: Settings, dest: Path, *, include_secrets: bool = False, progress: bool = True,
           echo: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Back the home of ``settings`` up into ``dest`` (new or empty); returns the manifest."""
    from archive.store import Archive

    home = settings.paths.root
    if not settings.paths.archive_db.exists():
        raise InvalidInput(f"{home} holds no archive.db: not a home to back up")
    dest = Path(dest).expanduser().resolve()
    _check_empty_target(dest, "the backup destination")
    if dest.is_relative_to(home.resolve()):
        raise InvalidInput(f"the backup destination {dest} lies inside the home {home}")
    work = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, mode=0o700)
    entries: list[dict[str, Any]] = []
    try:
        items, facts = plan(settings, include_secrets)
        bar: _Bar | None = None
        try:
            with _index_lock(settings.paths.index_dir):
                index_items, generation = _index_items(settings.paths)
                bar = _Bar(sum(_size(i) for i in (*index_items, *items)), "backup", progress)
                for item in index_items:
                    entries.append(_entry(item, _copy(item, work / item.rel, bar), work))
            for item in items:
                entries.append(_entry(item, _copy(item, work / item.rel, bar), work))
        finally:
            if bar is not None:
                bar.close()
        archive = Archive(work / "archive.db")
        try:
            change_seq = archive.latest_change()
        finally:
            archive.close()
        for entry in entries:  # opening the copy may have touched it: checksums of what is kept
            if entry["path"] == "archive.db":
                copied = work / "archive.db"
                entry.update(size=copied.stat().st_size, sha256=sha256_file(copied))
        manifest = {
            "format_version": FORMAT_VERSION,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source_home": str(home),
            "archive_change_seq": change_seq,
            "index_generation": generation,
            "models": facts["models"],
            "include_secrets": include_secrets,
            "files": entries,
        }
        text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
        (work / MANIFEST).write_text(text, encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = sum(int(e["size"]) for e in entries)
    echo(f"backed up {len(entries)} files ({size / 1e6:.1f} MB) of {home} into {dest}; "
         f"archive change seq {change_seq}, index generation {generation}, "
         f"model {facts['models']['active']}" + ("" if include_secrets else "; secrets NOT included"))
    return manifest


def _entry(item: Item, digest: str, work: Path) -> dict[str, Any]:
    return {"path": item.rel, "size": (work / item.rel).stat().st_size, "sha256": digest, "kind": item.kind,
            "what": describe(item.rel)}


# -- restore -------------------------------------------------------------------------------------------------
def read_manifest(src: Path) -> dict[str, Any]:
    path = Path(src) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{src} is not a backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise InvalidInput(f"{path} is not a backup manifest (no list of files)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InvalidInput(f"{path}: backup format {version!r} is not one this version reads "
                           f"(up to {FORMAT_VERSION})")
    return manifest


def _safe_rel(rel: Any) -> str:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in Path(rel).parts:
        raise InvalidInput(f"the manifest names an unsafe path {rel!r}")
    return rel


def verify(src: Path, *, progress: bool = False) -> dict[str, Any]:
    """Check every file of the manifest (present, size, SHA-256); InvalidInput names the first bad one."""
    src = Path(src)
    manifest = read_manifest(src)
    files = manifest["files"]
    bar = _Bar(sum(int(f.get("size") or 0) for f in files), "verify", progress)
    try:
        for entry in files:
            rel = _safe_rel(entry.get("path"))
            path = src / rel
            if not path.is_file():
                raise InvalidInput(f"the backup is incomplete: {rel} is missing")
            if path.stat().st_size != entry.get("size"):
                raise InvalidInput(f"the backup is damaged: {rel} has {path.stat().st_size} bytes, "
                                   f"the manifest says {entry.get('size')}")
            if sha256_file(path) != entry.get("sha256"):
                raise InvalidInput(f"the backup is damaged: the checksum of {rel} does not match "
                                   "the manifest")
            bar.update(path.stat().st_size)
    finally:
        bar.close()
    return manifest


def _rewrite_paths(root: Path, old: str, new: str) -> None:
    """The curation state names models by absolute path (active.json, candidates' status and reports)."""
    if not old or old == new:
        return
    old_j, new_j = json.dumps(old)[1:-1], json.dumps(new)[1:-1]
    curation = root / "curation"
    # civic.toml too: a setting naming a path inside the old home (embedding_cache, project_dir, …) follows
    # the home; paths outside it (a shared project snapshot, a model folder) are kept as they are
    settings = [root / "civic.toml"] if (root / "civic.toml").is_file() else []
    for path in [*(curation.rglob("*.json") if curation.is_dir() else ()), *settings]:
        text = path.read_text(encoding="utf-8")
        if old_j in text:
            path.write_text(text.replace(old_j + "/", new_j + "/").replace(f'"{old_j}"', f'"{new_j}"'),
                            encoding="utf-8")


def restore(src: Path, home: Path, *, force: bool = False, progress: bool = True,
            echo: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Restore the backup in ``src`` into ``home``: verified first, then written beside and renamed in."""
    src = Path(src).expanduser().resolve()
    home = Path(home).expanduser().resolve()
    manifest = verify(src, progress=progress)
    if not force:
        _check_empty_target(home, "the home")
    elif home.exists() and not home.is_dir():
        raise InvalidInput(f"the home {home} is a file")
    tmp = home.with_name(f"{home.name}.restore-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    files = manifest["files"]
    # models last, the active one last of all: Rasa picks the model file created last in models/
    active = (manifest.get("models") or {}).get("active_path")
    ordered = sorted(files, key=lambda f: (f.get("kind") == "model", f.get("path") == active))
    bar = _Bar(sum(int(f["size"]) for f in files), "restore", progress)
    old: Path | None = None
    try:
        for entry in ordered:
            rel = _safe_rel(entry["path"])
            digest = _copy_file(src / rel, tmp / rel, bar)
            if digest != entry["sha256"]:  # changed between the verification and the copy
                raise InvalidInput(f"the backup changed while it was restored: {rel}")
        HomePaths(tmp).ensure()
        _rewrite_paths(tmp, str(manifest.get("source_home") or ""), str(home))
        if home.exists():
            if any(home.iterdir()):
                old = home.with_name(f"{home.name}.replaced-{int(time.time())}")
                os.replace(home, old)
            else:
                home.rmdir()
        os.replace(tmp, home)
    except BaseException:
        bar.close()
        if old is not None and not home.exists():
            os.replace(old, home)  # put the replaced home back
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bar.close()
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    secrets = "" if manifest.get("include_secrets") else (
        "; the backup holds no secrets.toml: new tokens and keys are generated on first start (encrypted "
        "contacts and console sessions of the old home need its contact_key and session_key)")
    echo(f"restored {len(files)} files into {home} (archive change seq {manifest.get('archive_change_seq')}, "
         f"model {(manifest.get('models') or {}).get('active')}){secrets}")
    return manifest
