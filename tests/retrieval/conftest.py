from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Archive
from core.settings import Settings
from retrieval.config import RetrievalConfig
from retrieval.embedder import FakeEmbedder
from retrieval.service import Retriever
from tests.retrieval.corpus import seed

TODAY = "2026-06-01"


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as arch:
        yield seed(arch)


@pytest.fixture
def make_retriever(settings: Settings, archive: Archive):  # type: ignore[no-untyped-def]
    def make(**kwargs: object) -> Retriever:
        kwargs.setdefault("embedder", FakeEmbedder(unknown=is_han))  # an English-only model, like MiniLM
        kwargs.setdefault("today", lambda: TODAY)
        r = Retriever(RetrievalConfig.of(settings), archive, **kwargs)  # type: ignore[arg-type]
        r.warm_up()
        return r

    return make


@pytest.fixture
def retriever(make_retriever):  # type: ignore[no-untyped-def]
    return make_retriever()


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
