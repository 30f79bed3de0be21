"""Live calls in the staff console over the real app (the demo corpus, BM25 search): a call driven over the
hotline WebSocket shows in the console, its transcript masked; the agent's browser session — not the
hotline token — pins a suggestion, opens the status card (audit-logged), edits and submits the drafted
order.  Only staff and admins; state changes need the session's CSRF token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from app.factory import create_app
from app.keys import AUDIT
from archive.store import Archive
from core.settings import Settings
from retrieval.service import Retriever
from tests.admin.conftest import create_users, signed_in_client
from tests.app.fakes import FakeEngine
from tests.hotline.conftest import add_token


def segment(call_id: str, seq: int, text: str, speaker: str = "caller") -> dict[str, Any]:
    return {"type": "segment", "call_id": call_id, "seq": seq, "speaker": speaker, "text": text,
            "is_final": True, "start_ms": seq * 3000, "end_ms": seq * 3000 + 2500}


async def until(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_call_seen_pinned_and_its_order_submitted_with_a_staff_session(
        aiohttp_client: Any, settings: Settings, demo_archive: Archive, demo_retriever: Retriever) -> None:
    create_users(settings)
    token = add_token(settings)
    app = create_app(settings, engine=FakeEngine(), archive=demo_archive, retriever=demo_retriever)
    asr: TestClient = await aiohttp_client(app)
    clients: dict[str, TestClient] = {}
    for name in ("staff1", "editor1"):
        clients[name] = await signed_in_client(asr.server, name)
    staff, editor = clients["staff1"], clients["editor1"]
    csrf = {"X-CSRF-Token": staff.csrf}  # type: ignore[attr-defined]
    try:
        ws = await asr.ws_connect("/api/hotline/stream", headers={"Authorization": f"Bearer {token}"})
        await ws.send_json({"type": "start", "call_id": "call-1", "line": "12345"})
        await ws.send_json(segment("call-1", 0, "您好，12345", "agent"))
        await ws.send_json(segment("call-1", 1, "我叫张伟，手机13812345678，想问结婚登记需要带什么材料"))
        await ws.send_json(segment("call-1", 2, "我的办件编号是HD202610120003，办到哪一步了"))

        async def shown() -> Any:
            data = await (await staff.get("/api/admin/staff/calls/call-1")).json()
            return data if data["suggestions"] and data["app_nos"] else None

        data = await until(shown)
        assert [s["speaker"] for s in data["transcript"]] == ["agent", "caller", "caller"]
        text = " ".join(s["text"] for s in data["transcript"])
        assert "张伟" not in text and "13812345678" not in text and "〔手机号〕" in text
        assert "SF-G-001" in [s["doc_id"] for s in data["suggestions"]]
        assert data["app_nos"] == ["HD202610120003"]
        queue = await (await staff.get("/api/admin/staff/queue")).json()
        assert [c["call_id"] for c in queue["calls"]] == ["call-1"]
        page = await staff.get("/staff/calls/call-1")
        assert page.status == 200 and "建议 Suggestions" in await page.text()

        # the hotline token is not a staff session, and the wrong role or a missing token is refused
        assert (await asr.get("/api/admin/staff/calls/call-1",
                              headers={"Authorization": f"Bearer {token}"})).status == 401
        assert (await editor.get("/api/admin/staff/calls/call-1")).status == 403
        pin = {"doc_id": "SF-G-001"}
        assert (await staff.post("/api/admin/staff/calls/call-1/pin", json=pin)).status == 403
        pinned = await staff.post("/api/admin/staff/calls/call-1/pin", json=pin, headers=csrf)
        assert pinned.status == 200
        assert [s["pinned"] for s in await pinned.json() if s["doc_id"] == "SF-G-001"] == [True]

        card = await staff.get("/api/admin/staff/calls/call-1/status/HD202610120003")
        assert card.status == 200 and (await card.json())["applicant"] == "张*明"
        assert (await staff.get("/api/admin/staff/calls/call-1/status/HD202610120004")).status == 404

        await ws.send_json({"type": "end", "call_id": "call-1"})

        async def drafted() -> Any:
            return (await (await staff.get("/api/admin/staff/calls/call-1")).json())["order"]

        order = await until(drafted)
        assert order["status"] == "draft" and order["documents"][0]["doc_id"] == "SF-G-001"
        assert "13812345678" not in str(order)
        saved = await staff.put("/api/admin/staff/calls/call-1/order", json={"summary": "咨询结婚登记材料"},
                                headers=csrf)
        assert saved.status == 200 and (await saved.json())["status"] == "draft"
        edits = {"kind": "咨询", "category": "政务"}
        sent = await staff.post("/api/admin/staff/calls/call-1/order", json=edits, headers=csrf)
        assert sent.status == 200, await sent.text()
        body = await sent.json()
        assert body["status"] == "submitted" and body["summary"] == "咨询结婚登记材料"
        assert body["submitted_by"] == "staff:staff1"
        again = await staff.post("/api/admin/staff/calls/call-1/order", json={}, headers=csrf)
        assert again.status == 400
        assert (await staff.get("/api/admin/staff/calls/call-1/order")).status == 200

        rows = await asyncio.to_thread(asr.app[AUDIT].query, "staff:staff1")
        wanted = {"hotline.status.view", "hotline.order.edit", "hotline.order.submit"}
        assert wanted <= {r.action for r in rows}
        pins = await asyncio.to_thread(asr.app[AUDIT].query, "staff1", "staff.call.pin")
        assert [r.target for r in pins] == ["call-1"]
        await ws.close()
    finally:
        for client in clients.values():
            await client.close()
