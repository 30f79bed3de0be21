"""A call in progress survives an app restart: every acked segment is in app.db (masked) before its ack, the
restarted app takes the call back, and its work order is drafted from every segment, before and after the
restart; a drafted call leaves nothing in the journal."""

from __future__ import annotations

import sqlite3

from app.keys import HOTLINE
from archive.store import Archive
from core.pii import find
from core.settings import Settings
from retrieval.service import Retriever
from tests.hotline.test_workorder import COMPLAINT, start_app


def _journal(settings: Settings, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(settings.paths.app_db) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


async def test_a_call_in_progress_survives_a_restart(
        settings: Settings, demo_archive: Archive, demo_retriever: Retriever, auth: dict[str, str]) -> None:
    segments = [{"seq": i, "speaker": s, "text": t, "is_final": True, "start_ms": i * 1000}
                for i, (s, t) in enumerate(COMPLAINT)]
    first = await start_app(settings, demo_archive, demo_retriever)
    try:
        acks = await (await first.post("/api/hotline/calls/c-7/segments", json=segments[:5],
                                       headers=auth)).json()
        assert [a["status"] for a in acks] == ["new"] * 5
    finally:
        await first.close()  # the app stops (a crash would lose no more: each ack came after its write)
    kept = _journal(settings, "calls_live_segments")
    assert len(kept) == 5
    leaks = [f for row in kept for f in find(str(row[3]), caller=True)]
    assert not leaks, "the journal holds only masked text"

    second = await start_app(settings, demo_archive, demo_retriever)
    try:
        assert [c.call_id for c in second.app[HOTLINE].calls.live()] == ["c-7"]
        resumed = await (await second.post("/api/hotline/calls/c-7/segments", json=segments[4:],
                                           headers=auth)).json()  # the stream resumes after its last ack
        assert [a["status"] for a in resumed] == ["duplicate", "new", "new"]
        order = await (await second.post("/api/hotline/calls/c-7/end", headers=auth)).json()
    finally:
        await second.close()
    assert [t["start_ms"] for t in order["transcript"]] == [i * 1000 for i in range(len(COMPLAINT))]
    assert "中山路挖开了" in " ".join(t["text"] for t in order["transcript"])
    assert _journal(settings, "calls_live") == [] and _journal(settings, "calls_live_segments") == []
