"""Preparing a home to be served: the demo corpus in an empty archive, a current retrieval index.

Each step checks first and does nothing when its output is up to date, so a second start is quick.  Training
the dialogue model is not part of it: ``civic serve`` trains in the background while the app already answers
(``civic/supervisor.py``), and ``civic train`` trains in the foreground.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from typing import IO

from archive.demo import is_seeded, seed_demo
from archive.store import Archive
from core.errors import CivicError
from core.settings import Settings
from retrieval.config import RetrievalConfig
from retrieval.lifecycle import INDEX_FORMAT
from retrieval.service import Retriever

Echo = Callable[[str], None]


def prepare_home(settings: Settings, *, demo: bool = True, echo: Echo = print) -> None:
    """Make the home servable: the demo corpus on an empty archive (unless ``demo`` is False), a current
    index.  Cheap when both are already there."""
    paths = settings.paths.ensure()
    with Archive(paths.archive_db) as archive:
        if demo and archive.count() == 0 and not is_seeded(archive):
            echo("Seeding the demo corpus of 示范市 into the empty archive ...")
            totals = seed_demo(archive, max_body_chars=settings.max_body_chars).to_dict()["totals"]
            echo(f"  demo corpus: {totals}")
        retriever = Retriever(RetrievalConfig.of(settings), archive)  # cheap: models load only when needed
        store = retriever.store
        if store.current() is None or store.read_meta().get("format") != INDEX_FORMAT:
            echo("Building the retrieval index ...")
            echo(f"  index: {retriever.rebuild()}")
        elif archive.changes_since(store.change_seq())[1]:  # checked without loading any model
            echo(f"  index refreshed: {retriever.refresh()} changed documents")
        else:
            echo("Retrieval index: up to date")


def exclusive_lock(settings: Settings, name: str, busy: str) -> IO[str]:
    """Hold an exclusive lock on the file ``name`` in the home (released when the handle closes or the
    process ends); ``busy`` is the error when another process holds it."""
    path = settings.paths.ensure().root / name
    fh = path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise CivicError(busy) from exc
    return fh


def instance_lock(settings: Settings) -> IO[str]:
    """Hold an exclusive lock on the home for the life of the server (one `civic serve` per home)."""
    return exclusive_lock(settings, "serve.lock",
                          f"another `civic serve` is already running on {settings.home}")
