"""The running app follows the archive (the live index) and never blocks its event loop on a search.

With the engine down the app answers from search (app/standby.py), which makes the search visible through
/api/chat without a trained model; the real engine path is covered by tests/serve/test_live_stack.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.factory import create_app
from app.keys import ACTIONS, RETRIEVER
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.settings import Settings
from retrieval.types import Filters, Hit
from tests.app.fakes import FakeEngine
from tests.dialogue.test_actions_endpoint import action_call
from tests.retrieval.corpus import seed

AiohttpClient = Any
NEW_GUIDE = Document(
    id="G-BOAT", type=DocType.GUIDE, title="游艇靠泊许可", issuer="示范市港航局", body="游艇靠泊许可的办理。",
    materials=["游艇登记证书", "船员适任证书"], fees="免费", keywords=["游艇"],
)


async def ask(client: TestClient, text: str, session: str = "s") -> dict[str, Any]:
    resp = await client.post("/api/chat", json={"session": session, "text": text})
    assert resp.status == 200
    return dict(await resp.json())


async def eventually(check: Any, seconds: float) -> float:
    """Poll ``check()`` until it is true; the seconds it took (fails after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    pytest.fail(f"not within {seconds} s")


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    settings = settings.with_overrides(embedding_model="none", index_watch_seconds=0.5)
    settings.paths.ensure()
    with Archive(settings.paths.archive_db) as archive:
        seed(archive)
    return await aiohttp_client(create_app(settings, engine=FakeEngine(up=False)))


async def test_a_document_published_while_the_app_runs_is_found_within_5_s(
    live: TestClient, settings: Settings
) -> None:
    assert "游艇" not in str(await ask(live, "游艇靠泊许可要带什么"))
    with Archive(settings.paths.archive_db) as other:  # another process, e.g. `civic import`
        other.upsert(NEW_GUIDE)

    async def found() -> bool:
        reply = await ask(live, "游艇靠泊许可要带什么")
        return any(c["id"] == "G-BOAT" for m in reply["messages"] for c in m["citations"])

    assert await eventually(found, 5.0) < 5.0
    bot = live.app[ACTIONS].ctx  # the name lookup follows the same change as the search
    assert bot.guide_by_title("游艇靠泊许可") is not None
    assert live.app[RETRIEVER].change_seq() == bot.names().seq


async def test_a_document_abolished_while_the_app_runs_is_labelled_within_5_s(
    live: TestClient, settings: Settings
) -> None:
    with Archive(settings.paths.archive_db) as other:
        other.set_status("P-RES-NEW", Status.ABOLISHED, reason="superseded in a test")

    async def labelled() -> bool:
        reply = await ask(live, "居住证管理办法 有效期三年")
        cited = [c for m in reply["messages"] for c in m["citations"] if c["id"] == "P-RES-NEW"]
        noted = any("已失效" in m["text"] for m in reply["messages"])
        return bool(cited) and cited[0]["status"] == "abolished" and noted

    assert await eventually(labelled, 5.0) < 5.0


class SlowRetriever:
    """Every search takes 2 s, as a heavy dense search on a loaded machine might."""

    def __init__(self) -> None:
        self.searches = 0

    def warm_up(self) -> None:
        return None

    def search(self, query: str, filters: Filters | None = None, top_k: int = 5,
               include_inactive: bool = False) -> list[Hit]:
        self.searches += 1
        time.sleep(2.0)
        return []


async def test_a_slow_search_does_not_stall_other_sessions(
    aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path
) -> None:
    """The client runs on the app's own event loop here, so a blocked loop would hold up the client too:
    every answer is timed from the moment the slow search was sent."""
    slow = SlowRetriever()
    archive = Archive(tmp_path / "archive.db")
    seed(archive)
    client = await aiohttp_client(create_app(settings, engine=FakeEngine(up=False), retriever=slow,
                                             archive=archive))
    started = time.monotonic()
    searching = asyncio.ensure_future(ask(client, "一个要检索很久的问题", session="slow"))
    action = asyncio.ensure_future(client.post("/webhook", json=action_call(
        "action_answer_guide", "某个没有名字的服务要带什么", [], {})))  # an action searching, too
    await asyncio.sleep(0.2)  # both searches are running now
    assert (await client.get("/healthz")).status in (200, 503)
    health = time.monotonic() - started
    await ask(client, "/ask_status", session="other")  # answered without a search
    other = time.monotonic() - started
    await searching
    assert (await action).status == 200
    assert slow.searches >= 2 and time.monotonic() - started >= 2.0
    assert max(health, other) < 1.0, (health, other)


async def test_a_search_answer_for_a_named_wenhao_cites_that_policy_even_when_abolished(
    live: TestClient,
) -> None:
    """While the engine is down, 「示政发〔2019〕3号还有效吗」 is answered from that policy, labelled
    abolished with its successor — not from the current document the words match best."""
    reply = await ask(live, "示政发〔2019〕3号还有效吗")
    citations = [c for m in reply["messages"] for c in m["citations"]]
    assert citations[0]["id"] == "P-RES-OLD" and citations[0]["is_current"] is False
    assert citations[1]["id"] == "P-RES-NEW"  # the successor in force at the end of the chain (via P-RES-MID)
    assert "示范市居住证管理办法（2019）" in " ".join(m["text"] for m in reply["messages"])
