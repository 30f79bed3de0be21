"""The change feed and the sync between two archives: an upstream app over a real archive (aiohttp test
server) and a downstream archive with its subscriptions and sync (app/peers.py), no engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.factory import create_app
from app.keys import ACCOUNTS
from app.peers import Peers, PeerSync, parse_page
from archive import peers as sharing
from archive.models import Document, Status
from archive.store import Archive, DocQuery
from core.settings import Settings, load_settings
from retrieval.validity import shown
from tests.app.fakes import FakeEngine, FakeRetriever
from tests.catalog.conftest import fill

AiohttpClient = Any


@pytest.fixture
def upstream_archive(settings: Settings) -> Archive:
    store = Archive(settings.paths.archive_db)
    fill(store)
    return store


@pytest.fixture
async def upstream(aiohttp_client: AiohttpClient, settings: Settings,
                   upstream_archive: Archive) -> TestClient:
    app = create_app(settings, engine=FakeEngine(), retriever=FakeRetriever())
    client: TestClient = await aiohttp_client(app)
    return client


@pytest.fixture
def token(upstream: TestClient) -> str:
    return str(upstream.app[ACCOUNTS].add_token("county-feed", "feeds"))


def _lines(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return parse_page(text)


async def test_feed_needs_a_feeds_token(upstream: TestClient, token: str) -> None:
    assert (await upstream.get("/api/catalog/changes")).status == 401
    wrong = await upstream.get("/api/catalog/changes", headers={"Authorization": "Bearer civic_nope"})
    assert wrong.status == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    other = upstream.app[ACCOUNTS].add_token("hotline-x", "hotline")
    assert (await upstream.get("/api/catalog/changes",
                               headers={"Authorization": f"Bearer {other}"})).status == 401
    ok = await upstream.get("/api/catalog/changes", headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200 and ok.content_type == "application/x-ndjson"


async def test_feed_pages_lifecycle_and_etag(upstream: TestClient, token: str,
                                             upstream_archive: Archive) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    resp = await upstream.get("/api/catalog/changes", params={"since": "0", "limit": "2"}, headers=auth)
    first, trailer = _lines(await resp.text())
    assert len(first) == 2 and trailer["more"] is True
    seqs = [line["seq"] for line in first]
    assert seqs == sorted(seqs) and trailer["next_since"] == seqs[-1]
    everything: list[dict[str, Any]] = list(first)
    since = trailer["next_since"]
    while True:
        resp = await upstream.get("/api/catalog/changes", params={"since": str(since), "limit": "2"},
                                  headers=auth)
        page, trailer = _lines(await resp.text())
        everything += page
        since = trailer["next_since"]
        if not trailer["more"]:
            break
    ids = [line["record"]["id"] for line in everything]
    # drafts and documents in review are not public: never in the feed; each public document once
    assert sorted(ids) == ["G-1", "P-EXP", "P-NEW", "P-OLD"]
    old = next(line["record"] for line in everything if line["record"]["id"] == "P-OLD")
    assert old["status"] == "abolished" and old["replaced_by"] == "P-NEW" and old["body"]
    # nothing new: 304 for the same ETag, and an empty page after the cursor
    resp = await upstream.get("/api/catalog/changes", params={"since": str(since)}, headers=auth)
    etag = resp.headers["ETag"]
    assert _lines(await resp.text())[0] == []
    again = await upstream.get("/api/catalog/changes", params={"since": str(since)},
                               headers={**auth, "If-None-Match": etag})
    assert again.status == 304
    # a change: a new ETag, the withdrawn document is one line, a shared document is not re-shared
    upstream_archive.set_status("G-1", Status.REVIEW)
    upstream_archive.upsert(Document(id="prov:X", title="省里的文件", body="正文", origin="prov",
                                     origin_level="province", origin_id="X"))
    resp = await upstream.get("/api/catalog/changes", params={"since": str(since)},
                              headers={**auth, "If-None-Match": etag})
    assert resp.status == 200 and resp.headers["ETag"] != etag
    page, _ = _lines(await resp.text())
    assert page == [{"seq": page[0]["seq"], "id": "G-1", "withdrawn": True}]
    bad = await upstream.get("/api/catalog/changes", params={"since": "x"}, headers=auth)
    assert bad.status == 400


def _downstream(tmp_path: Path) -> tuple[Settings, Archive, Peers]:
    settings = load_settings(tmp_path / "down")
    paths = settings.paths.ensure()
    archive = Archive(paths.archive_db)
    return settings, archive, Peers(paths.app_db, paths.peers_dir, archive)


async def test_sync_imports_with_provenance_idempotently_and_follows_lifecycle(
        upstream: TestClient, token: str, upstream_archive: Archive, tmp_path: Path) -> None:
    settings, archive, peers = _downstream(tmp_path)
    # a local document with the upstream's 索引号 of G-1: reported, never overwritten
    archive.upsert(Document(id="L-1", title="本地结婚登记", body="本地正文",
                            index_no="11360799MB1B40105X/2025-00107"))
    url = str(upstream.make_url("")).rstrip("/")
    peers.add("prov", url, "province", token + "\n", label="示范省人民政府")
    token_file = settings.paths.peers_dir / "prov.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token not in json.dumps([p.to_json() for p in peers.listing()])
    sync = PeerSync(peers, archive, poll_seconds=0.5)
    await sync.open()
    try:
        assert (await sync.round())["prov"] == 3  # P-NEW, P-OLD, P-EXP; G-1 clashes
        new = archive.get("prov:P-NEW")
        assert (new.origin, new.origin_level, new.origin_id, new.status) == (
            "prov", "province", "P-NEW", Status.PUBLISHED)
        old = archive.get("prov:P-OLD")
        assert old.status is Status.ABOLISHED and old.replaced_by == "prov:P-NEW"
        assert archive.get("L-1").title == "本地结婚登记" and archive.find("prov:G-1") is None
        peer = peers.get("prov")
        assert peer.clashes == 1 and peer.last_error == "" and peer.last_sync
        clash = peers.problems("prov")[0]
        assert (clash.remote_id, clash.kind, clash.local_id) == ("G-1", "index_no", "L-1")
        # the same records again (cursor reset): no new version anywhere
        versions = archive.stats()["documents"]["versions"]
        peers.resync("prov")
        assert (await sync.round())["prov"] == 0
        assert archive.stats()["documents"]["versions"] == versions
        # upstream abolishes P-NEW: the downstream copy follows
        upstream_archive.set_status("P-NEW", Status.ABOLISHED, reason="停止执行")
        assert (await sync.round())["prov"] == 1
        assert archive.get("prov:P-NEW").status is Status.ABOLISHED
        assert archive.get("prov:P-NEW").status_reason == "停止执行"
        # the citation names the peer by its label
        from retrieval.citations import cite
        assert cite(archive, archive.get("prov:P-NEW"), "2026-06-01").origin == "示范省人民政府"
    finally:
        await sync.stop()
        peers.close()
        archive.close()


async def test_wrong_token_and_a_peer_down_back_off_and_resume(
        aiohttp_client: AiohttpClient, settings: Settings, upstream_archive: Archive, tmp_path: Path) -> None:
    app = create_app(settings, engine=FakeEngine(), retriever=FakeRetriever())
    upstream: TestClient = await aiohttp_client(app)
    good = upstream.app[ACCOUNTS].add_token("c", "feeds")
    _, archive, peers = _downstream(tmp_path)
    url = str(upstream.make_url("")).rstrip("/")
    peers.add("bad", url, "province", "civic_wrong")
    peers.add("dead", "http://127.0.0.1:9", "city", good)  # nothing listens on the discard port
    sync = PeerSync(peers, archive, poll_seconds=0.2)
    await sync.open()
    try:
        assert await sync.round() == {}
        bad, dead = peers.get("bad"), peers.get("dead")
        assert "401" in bad.last_error and bad.failures == 1 and bad.cursor == 0
        assert dead.failures == 1 and dead.last_error
        assert await sync.round() == {}  # backing off: not tried again at once
        assert peers.get("bad").failures == 1
        # the peer comes back (its URL now answers): the sync resumes where it stood
        peers.remove("dead")
        peers.add("dead2", url, "city", good)
        assert (await sync.round())["dead2"] == 4
        assert archive.find("dead2:G-1") is not None and peers.get("dead2").failures == 0
    finally:
        await sync.stop()
        peers.close()
        archive.close()


async def test_a_disabled_peer_is_hidden_from_search_and_catalog(
        upstream: TestClient, token: str, tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    settings, archive, peers = _downstream(tmp_path)
    url = str(upstream.make_url("")).rstrip("/")
    peers.add("prov", url, "province", token, label="示范省人民政府")
    sync = PeerSync(peers, archive, poll_seconds=0.5)
    await sync.open()
    try:
        await sync.round()
    finally:
        await sync.stop()
    down = await aiohttp_client(create_app(settings, engine=FakeEngine(), retriever=FakeRetriever(),
                                           archive=archive))
    page = await down.get("/catalog", params={"level": "province"})
    text = await page.text()
    assert page.status == 200 and "来源：示范省人民政府" in text and "居住证" in text
    assert "共 4 件" in text
    assert "共 0 件" in await (await down.get("/catalog", params={"level": "local"})).text()
    doc = await down.get("/catalog/doc/prov:P-NEW")
    assert doc.status == 200 and "来源：示范省人民政府" in await doc.text()
    assert (await down.get("/catalog", params={"level": "moon"})).status == 400
    health = await (await down.get("/healthz")).json()
    assert health["peers"]["prov"]["cursor"] > 0 and health["peers"]["prov"]["clashes"] == 0
    assert "prov%3AP-NEW" in await (await down.get("/sitemap.xml")).text()
    assert "prov%3AP-NEW" in await (await down.get("/catalog/feed.atom")).text()
    peers.set_enabled("prov", False)
    assert sharing.hidden_origins(archive) == {"prov"}
    assert "prov%3AP-NEW" not in await (await down.get("/sitemap.xml")).text()
    assert "prov%3AP-NEW" not in await (await down.get("/catalog/feed.atom")).text()
    assert "共 0 件" in await (await down.get("/catalog", params={"level": "province"})).text()
    assert (await down.get("/catalog/doc/prov:P-NEW")).status == 404
    total, _ = archive.search_documents(DocQuery(origin_level="province"))
    assert total == 4  # kept, not deleted
    from retrieval.ranking import DocScore
    ranked = [DocScore(doc_id="prov:P-NEW", score=1.0, passages=[])]
    assert list(shown(archive, ranked, "2026-06-01", include_inactive=True)) == []
    peers.set_enabled("prov", True)
    assert len(list(shown(archive, ranked, "2026-06-01", include_inactive=True))) == 1
    peers.close()
