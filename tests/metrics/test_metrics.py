"""GET /metrics on the real app (create_app with the fake engine and retriever): the turn series move with
turns, the scrape-time gauges read the components (engine state, index, hotline outbox), and the guard
serves loopback, or a token of scope metrics, only."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.accounts import Accounts
from app.factory import create_app
from app.keys import ENGINE, ENGINE_MONITOR, HOTLINE
from app.metrics import Metrics
from app.peers import PEERS
from app.workorder import WorkOrder
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any
FROM_OUTSIDE = {"X-Forwarded-For": "203.0.113.9"}  # relayed by a proxy: not a loopback client


class SizedRetriever(FakeRetriever):
    """Finds nothing, but says what it serves as the real Retriever.info() does."""

    def info(self) -> dict[str, Any]:
        return {"passages": 42, "documents": 7, "generation": 3}


def value(text: str, series: str) -> float:
    """One sample of the exposition text, e.g. ``civic_turn_seconds_count{channel="api"}``; 0 if absent."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    engine = FakeEngine()
    result: TestClient = await aiohttp_client(create_app(settings, engine=engine, retriever=SizedRetriever()))
    return result


async def scrape(client: TestClient) -> str:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def test_turns_move_the_counters_and_the_histogram(client: TestClient) -> None:
    before = await scrape(client)
    assert value(before, 'civic_turn_seconds_count{channel="api"}') == 0
    for i in range(3):
        response = await client.post("/api/chat", json={"session": f"m-{i}", "text": "你好"})
        assert response.status == 200
    after = await scrape(client)
    assert value(after, 'civic_turn_seconds_count{channel="api"}') == 3
    assert value(after, 'civic_turn_seconds_sum{channel="api"}') > 0
    assert value(after, 'civic_turn_seconds_bucket{channel="api",le="+Inf"}') == 3
    assert value(after, 'civic_intents_total{intent="greet"}') == 3  # FakeEngine's intent
    assert value(after, 'civic_turn_modes_total{mode="dialogue"}') == 3
    assert value(after, 'civic_fallbacks_total{channel="api"}') == 0


async def test_search_turns_and_hand_overs_are_counted(client: TestClient) -> None:
    fake = client.app[ENGINE]
    assert isinstance(fake, FakeEngine)
    fake.up = False
    client.app[ENGINE_MONITOR].mark_down("test: engine stopped")
    response = await client.post("/api/chat", json={"session": "m-h", "text": "我要人工客服"})
    assert response.status == 200
    reply = await response.json()
    text = await scrape(client)
    assert reply["mode"] == "search"
    assert value(text, 'civic_turn_modes_total{mode="search"}') == 1
    assert value(text, 'civic_engine_state{state="down"}') == 1
    assert value(text, 'civic_engine_state{state="up"}') == 0
    assert reply["handoff"] is True  # the standby hands "a person, please" over
    assert value(text, 'civic_handovers_total{channel="api"}') == 1
    paused = await client.post("/api/chat", json={"session": "m-h", "text": "还在吗"})
    assert (await paused.json())["mode"] == "paused"
    text = await scrape(client)
    assert value(text, 'civic_turn_modes_total{mode="paused"}') == 1
    assert value(text, 'civic_handovers_total{channel="api"}') == 1  # a paused turn is no new hand-over


async def test_gauges_read_the_index_and_the_outbox(client: TestClient) -> None:
    text = await scrape(client)
    assert value(text, "civic_index_passages") == 42
    assert value(text, "civic_index_documents") == 7
    assert value(text, "civic_index_generation") == 3
    assert value(text, 'civic_engine_state{state="up"}') == 1
    assert value(text, "civic_outbox_pending") == 0
    orders = client.app[HOTLINE].orders
    assert orders is not None
    order = WorkOrder(order_id="wo-m1", call_id="c-m1", kind="投诉", category="其他", department="热线办公室",
                      summary="路灯不亮", places=[], times=[], documents=[], transcript=[])
    orders.save_draft(order)
    orders.submit("c-m1", {}, "test")
    text = await scrape(client)
    assert value(text, "civic_outbox_pending") == 1
    orders.delivered(orders.outbox()[0]["id"])
    assert value(await scrape(client), "civic_outbox_pending") == 0


async def test_the_guard(client: TestClient, settings: Settings) -> None:
    accounts = Accounts(settings.paths.app_db)
    try:
        good, other = accounts.add_token("prom", "metrics"), accounts.add_token("feeder", "feeds")
    finally:
        accounts.close()
    assert (await client.get("/metrics")).status == 200  # loopback, no proxy in between
    refused = await client.get("/metrics", headers=FROM_OUTSIDE)
    assert refused.status == 401 and "Bearer" in refused.headers["WWW-Authenticate"]
    wrong = await client.get("/metrics", headers={**FROM_OUTSIDE, "Authorization": f"Bearer {other}"})
    assert wrong.status == 403
    forged = await client.get("/metrics", headers={**FROM_OUTSIDE, "Authorization": "Bearer civic_nope"})
    assert forged.status == 401
    allowed = await client.get("/metrics", headers={**FROM_OUTSIDE, "Authorization": f"Bearer {good}"})
    assert allowed.status == 200 and "civic_turn_seconds" in await allowed.text()


def test_two_apps_keep_their_own_registries() -> None:
    first, second = Metrics(), Metrics()  # the global registry would refuse the second set of names
    first.errors.labels("api").inc()
    assert first.registry.get_sample_value("civic_turn_errors_total", {"channel": "api"}) == 1
    assert second.registry.get_sample_value("civic_turn_errors_total", {"channel": "api"}) is None


async def test_peer_gauges_follow_the_subscriptions(client: TestClient) -> None:
    peers = client.app[PEERS]
    peers.add("north", "http://127.0.0.1:9/", "province", "civ_peer-token")
    peers.set_enabled("north", False)  # the background sync leaves it alone: the figures stay ours
    peers.advance("north", 5, 12, 5, [], [])
    peers.attempted("north")  # a successful sync: last_sync is now
    text = await scrape(client)
    assert value(text, 'civic_peer_sync_lag{peer="north"}') == 7
    assert value(text, 'civic_peer_last_sync_seconds{peer="north"}') > time.time() - 120
    assert value(text, 'civic_peer_failures{peer="north"}') == 0
    peers.remove("north")
    assert 'peer="north"' not in await scrape(client)  # a removed peer leaves no stale series
