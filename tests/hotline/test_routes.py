"""The hotline routes over the real factory: token auth, the WebSocket stream (an ack per frame, idempotent
and reordered segments, bad frames answered without dropping the socket's other calls), the HTTP segments and
end, suggestions (pushed and at GET), the status card (audit-logged) and the drafted order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from app.audit import AuditLog
from app.keys import HOTLINE
from core.settings import Settings
from tests.hotline.conftest import add_token


def segment(call_id: str, seq: int, text: str, final: bool = True, speaker: str = "caller") -> dict[str, Any]:
    return {"type": "segment", "call_id": call_id, "seq": seq, "speaker": speaker, "text": text,
            "is_final": final, "start_ms": seq * 2000, "end_ms": seq * 2000 + 1500}


async def receive_until(ws: Any, want: str, seq: int | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The next frame of type ``want`` (for ``seq`` when given); other frames are skipped.

    ``timeout`` only keeps a lost frame from hanging the suite: this is not a speed test (the suggestion
    latency is bench/HOTLINE.md's).  Frames it skips are named if the wait runs out."""
    skipped: list[dict[str, Any]] = []

    async def loop() -> dict[str, Any]:
        while True:
            message = await ws.receive()
            assert message.type == WSMsgType.TEXT, message
            frame: dict[str, Any] = json.loads(message.data)
            if frame["type"] == want and (seq is None or frame.get("seq") == seq):
                return frame
            skipped.append(frame)

    try:
        return await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {want!r} frame (seq {seq}) in {timeout} s; skipped: {skipped}") from None


ROUTES = [
    ("GET", "/api/hotline/stream"), ("POST", "/api/hotline/calls/c1/segments"),
    ("POST", "/api/hotline/calls/c1/end"), ("GET", "/api/hotline/calls/c1/suggestions"),
    ("GET", "/api/hotline/calls/c1/live"), ("POST", "/api/hotline/calls/c1/pin"),
    ("GET", "/api/hotline/calls/c1/order"), ("PUT", "/api/hotline/calls/c1/order"),
    ("POST", "/api/hotline/calls/c1/order"),
    ("GET", "/api/hotline/calls/c1/status/HD202610120003"), ("POST", "/api/hotline/adapters/amazon-connect"),
]


async def test_a_missing_or_wrong_token_is_401(client: TestClient, settings: Settings) -> None:
    from app.hotline_routes import ROUTES as REGISTERED

    assert {(verb, path.replace("{call_id}", "c1").replace("{app_no}", "HD202610120003"))
            for verb, path, _ in REGISTERED} == set(ROUTES)
    staff_token = add_token(settings, "console", "staff")
    for method, path in ROUTES:
        for headers in ({}, {"Authorization": "Bearer civ_wrong"}, {"Authorization": f"Bearer {staff_token}"},
                        {"Authorization": "Basic abc"}):
            response = await client.request(method, path, headers=headers)
            assert response.status == 401, (path, headers)
            assert (await response.json())["type"] == "Unauthorized"


async def test_the_stream_acks_each_frame_and_keeps_calls_apart(client: TestClient,
                                                                auth: dict[str, str]) -> None:
    ws = await client.ws_connect("/api/hotline/stream", headers=auth)
    await ws.send_json({"type": "start", "call_id": "A", "line": "12345"})
    start = await receive_until(ws, "ack")
    assert start["status"] == "started" and start["protocol"] == "1"
    await ws.send_json({"type": "start", "call_id": "B"})
    await receive_until(ws, "ack")
    await ws.send_json(segment("A", 1, "结婚登记需要带什么材料"))
    # the very next frame is the ack: the segment's search starts only once it is sent (its suggestions
    # once came first, while the segment was written to the journal, and this test waited for them forever)
    assert json.loads((await ws.receive()).data) == {"type": "ack", "call_id": "A", "seq": 1, "status": "new"}
    first = await receive_until(ws, "suggestions", seq=1)
    assert first["call_id"] == "A" and first["suggestions"][0]["doc_id"] == "SF-G-001"
    # a bad frame is answered with an error and the socket goes on
    await ws.send_str("{not json")
    assert (await receive_until(ws, "error"))["status"] == 400
    await ws.send_json({**segment("B", 1, "x"), "speaker": "robot"})
    error = await receive_until(ws, "error")
    assert error["call_id"] == "B" and error["seq"] == 1 and "speaker" in error["error"]
    await ws.send_json({"type": "end", "call_id": "nope"})
    assert (await receive_until(ws, "error"))["status"] == 404
    # resent, out of order, partial then final
    await ws.send_json(segment("A", 1, "结婚登记需要带什么材料"))
    assert (await receive_until(ws, "ack"))["status"] == "duplicate"
    await ws.send_json(segment("A", 0, "喂你好", speaker="agent"))
    assert (await receive_until(ws, "ack"))["status"] == "new"
    await ws.send_json(segment("B", 3, "公积金", final=False))
    assert (await receive_until(ws, "ack"))["status"] == "new"
    await ws.send_json(segment("B", 3, "租房提取公积金怎么办理"))
    assert (await receive_until(ws, "ack"))["status"] == "replaced"
    b_frame = await receive_until(ws, "suggestions", seq=3)
    if not b_frame["is_final"]:  # the partial's search may answer first
        b_frame = await receive_until(ws, "suggestions", seq=3)
    assert b_frame["call_id"] == "B" and b_frame["is_final"]
    assert "SF-G-014" in [s["doc_id"] for s in b_frame["suggestions"]]  # 租房提取
    service = client.app[HOTLINE]
    call = service.calls.get("A")
    assert [(s.seq, s.speaker) for s in call.ordered()] == [(0, "agent"), (1, "caller")]
    assert [s.text for s in service.calls.get("B").finals()] == ["租房提取公积金怎么办理"]
    # GET gives the current list: doc_id, title, passage, citation
    listed = await (await client.get("/api/hotline/calls/A/suggestions", headers=auth)).json()
    assert listed[0]["doc_id"] == "SF-G-001" and listed[0]["title"] == "结婚登记"
    assert listed[0]["passage"] and listed[0]["citation"]["id"] == "SF-G-001"
    assert len({s["doc_id"] for s in listed}) == len(listed) <= 3
    await ws.send_json({"type": "end", "call_id": "A"})
    order = await receive_until(ws, "order")
    assert order["call_id"] == "A" and order["order"]["status"] == "draft"
    # the socket still carries call B
    await ws.send_json(segment("B", 4, "还有退休提取"))
    assert (await receive_until(ws, "ack"))["seq"] == 4
    await ws.close()


async def test_a_frame_too_big_closes_the_socket(client: TestClient, auth: dict[str, str]) -> None:
    ws = await client.ws_connect("/api/hotline/stream", headers=auth)
    await ws.send_str(json.dumps(segment("big", 1, "x" * 70_000)))
    message = await ws.receive()
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert ws.close_code == 1009


async def test_http_segments_end_and_the_order(client: TestClient, auth: dict[str, str]) -> None:
    url = "/api/hotline/calls/http-1/segments"
    batch = [segment("http-1", 2, "我叫张伟，电话13812345678"),
             segment("http-1", 1, "您好请讲", speaker="agent"),
             {k: v for k, v in segment("http-1", 3, "想问一下失业金怎么领").items() if k != "call_id"}]
    acks = await (await client.post(url, json=batch, headers=auth)).json()
    assert [a["status"] for a in acks] == ["new", "new", "new"]
    again = await (await client.post(url, json=batch[0], headers=auth)).json()
    assert again == [{"type": "ack", "call_id": "http-1", "seq": 2, "status": "duplicate"}]
    # one bad segment in a batch: 400 and nothing applied
    response = await client.post(url, json=[segment("http-1", 5, "好的"), {"seq": 6}], headers=auth)
    assert response.status == 400 and "speaker" in (await response.json())["error"]
    response = await client.post(url, json=segment("other", 7, "x"), headers=auth)
    assert response.status == 400
    response = await client.post(url, data=b"\xff", headers=auth)
    assert response.status == 400
    service = client.app[HOTLINE]
    assert 5 not in service.calls.get("http-1").segments
    order = await (await client.post("/api/hotline/calls/http-1/end", headers=auth)).json()
    assert order["call_id"] == "http-1" and order["category"]
    assert order["kind"] in ("咨询", "投诉求助", "建言")
    texts = [line["text"] for line in order["transcript"]]
    assert texts == ["您好请讲", "我叫〔姓名〕，电话〔手机号〕", "想问一下失业金怎么领"]
    assert "13812345678" not in json.dumps(order, ensure_ascii=False)
    assert order["department"]
    # a resent end answers the same order; segments after the end are refused
    assert (await (await client.post("/api/hotline/calls/http-1/end", headers=auth)).json())["order_id"] == \
        order["order_id"]
    assert (await client.post(url, json=segment("http-1", 9, "再见"), headers=auth)).status == 400
    got = await (await client.get("/api/hotline/calls/http-1/order", headers=auth)).json()
    assert got["order_id"] == order["order_id"]
    # the agent edits the draft (saved, still a draft), then submits it
    edits = {"kind": "咨询", "category": "就业", "summary": "失业金怎么领，电话13900001111"}
    edited = await client.put("/api/hotline/calls/http-1/order", headers=auth, json=edits)
    assert edited.status == 200, await edited.text()
    draft = await edited.json()
    assert draft["status"] == "draft" and draft["category"] == "就业" and "〔手机号〕" in draft["summary"]
    bad = await client.put("/api/hotline/calls/http-1/order", headers=auth, json={"kind": "闲聊"})
    assert bad.status == 400
    submitted = await (await client.post("/api/hotline/calls/http-1/order", json={}, headers=auth)).json()
    assert submitted["status"] == "submitted" and submitted["category"] == "就业"
    assert submitted["drafted"] == order["drafted"]  # what the classifier said stays beside the edit
    assert (await client.put("/api/hotline/calls/http-1/order", json={}, headers=auth)).status == 400
    assert (await client.get("/api/hotline/calls/none/suggestions", headers=auth)).status == 404


async def test_partials_search_at_most_once_a_second(client: TestClient, auth: dict[str, str]) -> None:
    service = client.app[HOTLINE]
    searched: list[tuple[str, str]] = []
    original = service._search

    def counting(latest: str, window: str) -> Any:
        searched.append((latest, window))
        return original(latest, window)

    service._search = counting  # type: ignore[method-assign]
    url = "/api/hotline/calls/p-1/segments"
    await client.post(url, json=segment("p-1", 1, "护照", final=False), headers=auth)
    await service.idle()
    assert searched == [("护照", "")]  # a partial searches its own words
    for i in range(1, 6):  # within the second: no more searches
        await client.post(url, json=segment("p-1", 1, "护照" + "办" * i, final=False), headers=auth)
    await service.idle()
    assert len(searched) == 1
    await client.post(url, json=segment("p-1", 1, "护照怎么办理"), headers=auth)
    await service.idle()
    assert len(searched) == 2 and searched[-1][0] == "护照怎么办理"


async def test_an_application_number_offers_the_status_card_and_each_view_is_audited(
        client: TestClient, auth: dict[str, str], settings: Settings) -> None:
    assert (await client.get("/api/hotline/calls/s-1/live", headers=auth)).status == 404  # no such call yet
    await client.post("/api/hotline/calls/s-1/segments", json=segment("s-1", 0, "你好"), headers=auth)
    agent = await client.ws_connect("/api/hotline/calls/s-1/live", headers=auth)
    assert (await receive_until(agent, "suggestions"))["seq"] is None
    await client.post("/api/hotline/calls/s-1/segments",
                      json=segment("s-1", 1, "我的办件编号是 HD 2026 1012 0003 想查一下进度"), headers=auth)
    offer = await receive_until(agent, "status_offer")
    assert offer["app_no"] == "HD202610120003"
    never_said = await client.get("/api/hotline/calls/s-1/status/HD202610120004", headers=auth)
    assert never_said.status == 404
    headers = {**auth, "X-Agent": "A017"}
    card = await (await client.get("/api/hotline/calls/s-1/status/HD202610120003", headers=headers)).json()
    assert card["item"].startswith("居民身份证换领") and card["applicant"] == "张*明" and card["history"]
    await client.get("/api/hotline/calls/s-1/status/HD202610120003", headers=headers)
    audit = AuditLog(settings.paths.app_db)
    try:
        rows = audit.query(action="hotline.status.view")
    finally:
        audit.close()
    assert len(rows) == 2 and rows[0].target == "HD202610120003" and rows[0].actor == "token:asr/agent:A017"
    await agent.close()
