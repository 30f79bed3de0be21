"""Fixtures of the curation page tests: the real app over a fake engine that can report and load models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.conversations import Conversations
from app.factory import create_app
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import AiohttpClient, create_users, signed_in  # noqa: F401  (fixture)
from tests.app.fakes import FakeEngine, FakeRetriever


class SwappingEngine(FakeEngine):
    """The fake engine plus the model calls the curation page makes (status, PUT /model)."""

    def __init__(self) -> None:
        super().__init__()
        self.model_file = "20261201-000000-original.tar.gz"
        self.loads: list[str] = []

    async def status(self, timeout: float | None = None) -> dict[str, Any]:
        return {"model_file": self.model_file}

    async def load_model(self, model_file: str, timeout: float = 180.0) -> None:
        assert Path(model_file).is_file()
        self.loads.append(model_file)
        self.model_file = Path(model_file).name


@pytest.fixture
def engine() -> SwappingEngine:
    return SwappingEngine()


@pytest.fixture
async def admin_client(aiohttp_client: AiohttpClient, settings: Settings,
                       engine: SwappingEngine) -> TestClient:
    """The app with the users of tests/admin, the demo corpus, a model file and four logged fallbacks."""
    create_users(settings)
    models = settings.paths.ensure().models_dir
    (models / engine.model_file).write_bytes(b"the model civic train made")
    conversations = Conversations(settings.paths.app_db)
    for session, text in (("web:a", "收到收到"), ("web:b", "收到收到"), ("web:c", "好的收到"),
                          ("web:d", "我身份证11010519491231002X丢了怎么办")):
        conversations.log("fallback", session, text, {"answered": False})
    conversations.close()
    with Archive(settings.paths.archive_db) as archive:
        seed_demo(archive)
    client: TestClient = await aiohttp_client(create_app(settings, engine=engine, retriever=FakeRetriever()))
    return client
