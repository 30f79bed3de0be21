"""Hotline fixtures: a home seeded with the demo corpus, a real retriever over it (BM25; a fake embedder that
cannot read Chinese keeps the dense side out, as with an English-only model), a hotline token and an app
client over the real factory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.accounts import Accounts
from app.factory import create_app
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings, load_settings
from retrieval.config import RetrievalConfig
from retrieval.embedder import FakeEmbedder
from retrieval.service import Retriever
from tests.app.fakes import FakeEngine

TODAY = "2026-11-01"


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One demo archive and index for the whole session (read-only in these tests): building the index
    takes seconds."""
    return load_settings(tmp_path_factory.mktemp("hotline-demo"))


@pytest.fixture(scope="session")
def demo_archive(demo_home: Settings) -> Iterator[Archive]:
    demo_home.paths.ensure()
    with Archive(demo_home.paths.archive_db) as archive:
        seed_demo(archive)
        yield archive


def make_retriever(settings: Settings, archive: Archive) -> Retriever:
    retriever = Retriever(RetrievalConfig.of(settings), archive, embedder=FakeEmbedder(unknown=is_han),
                          today=lambda: TODAY)
    retriever.warm_up()
    return retriever


@pytest.fixture(scope="session")
def demo_retriever(demo_home: Settings, demo_archive: Archive) -> Retriever:
    return make_retriever(demo_home, demo_archive)


def add_token(settings: Settings, name: str = "asr", scope: str = "hotline") -> str:
    accounts = Accounts(settings.paths.app_db)
    try:
        return accounts.add_token(name, scope)
    finally:
        accounts.close()


@pytest.fixture
def token(settings: Settings) -> str:
    return add_token(settings)


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, demo_archive: Archive, demo_retriever: Retriever,
                 token: str) -> TestClient:
    app = create_app(settings, engine=FakeEngine(), archive=demo_archive, retriever=demo_retriever)
    result: TestClient = await aiohttp_client(app)
    return result
