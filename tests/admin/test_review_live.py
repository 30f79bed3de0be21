"""An approval reaches the running chat within 5 s: the real app with its live index (lexical only, the engine
down so /api/chat answers from search), a draft submitted, approved by another user through the console,
then found with its citation; before approval neither the draft nor the document in review is ever cited."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient

from app.factory import create_app
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import create_users, sign_in_client
from tests.app.fakes import FakeEngine
from tests.retrieval.corpus import seed

AiohttpClient = Any
QUESTION = "游艇靠泊许可要带什么"
DRAFT = Document(
    id="G-BOAT", type=DocType.GUIDE, title="游艇靠泊许可", issuer="示范市港航局", body="游艇靠泊许可的办理。",
    materials=["游艇登记证书", "船员适任证书"], location="示范市政务服务中心", keywords=["游艇"],
    status=Status.DRAFT,
)


async def cited(client: TestClient) -> bool:
    resp = await client.post("/api/chat", json={"session": "citizen", "text": QUESTION})
    assert resp.status == 200
    reply = await resp.json()
    return any(c["id"] == "G-BOAT" for m in reply["messages"] for c in m["citations"])


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    settings = settings.with_overrides(embedding_model="none", index_watch_seconds=0.5)
    settings.paths.ensure()
    create_users(settings)
    with Archive(settings.paths.archive_db) as archive:
        seed(archive)
        archive.upsert(DRAFT)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(up=False)))
    return client


async def user(live: TestClient, name: str) -> tuple[TestClient, str]:
    client = TestClient(live.server, cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    return client, await sign_in_client(client, name)


async def test_an_approval_reaches_the_chat_within_5_s(live: TestClient) -> None:
    editor, editor_csrf = await user(live, "editor1")
    reviewer, reviewer_csrf = await user(live, "reviewer1")
    try:
        assert not await cited(live)
        submitted = await editor.post("/admin/review/G-BOAT/submit", data={"csrf": editor_csrf})
        assert submitted.status == 200  # followed to the review page
        page = await (await reviewer.get("/admin/review/G-BOAT")).text()
        submission = re.search(r'name="submission" value="(\d+)"', page)
        assert submission, page
        await asyncio.sleep(1.2)  # two index watch intervals: the document in review is still not shown
        assert not await cited(live)
        approved = await reviewer.post("/admin/review/G-BOAT/approve", allow_redirects=False,
                                       data={"csrf": reviewer_csrf, "submission": submission.group(1)})
        assert approved.status == 303, await approved.text()
        started = time.monotonic()
        while not await cited(live):
            assert time.monotonic() - started < 5.0, "the approved guide was not found within 5 s"
            await asyncio.sleep(0.2)
        print(f"\nfound by the chat {time.monotonic() - started:.1f} s after the approval")
    finally:
        await editor.close()
        await reviewer.close()
