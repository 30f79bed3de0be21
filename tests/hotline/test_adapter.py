"""Amazon Connect Contact Lens real-time events → protocol frames, and through the app's adapter route."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from connectors.hotline import Call, Segment, parse_frame
from connectors.hotline_adapters import AmazonConnectAdapter
from core.errors import InvalidInput

CONTACT = "c6b4e5a1-0d2f-4a51-9b4e-6f1d2c3b4a59"


def event(kind: str, segments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Version": "1.0.0", "Channel": "VOICE", "AccountId": "123456789012",
                            "Instance": "e9f0c0b5", "ContactId": CONTACT, "LanguageCode": "zh-CN",
                            "EventType": kind}
    if segments is not None:
        body["Segments"] = segments
    return body


def transcript(tid: str, role: str, text: str, begin: int, end: int, **extra: Any) -> dict[str, Any]:
    return {"Transcript": {"Id": tid, "ParticipantId": role.lower(), "ParticipantRole": role, "Content": text,
                           "BeginOffsetMillis": begin, "EndOffsetMillis": end, "Sentiment": "NEUTRAL",
                           **extra}}


def utterance(tid: str, role: str, text: str, begin: int, end: int) -> dict[str, Any]:
    return {"Utterance": {"Id": "u-" + tid, "TranscriptId": tid, "ParticipantId": role.lower(),
                          "ParticipantRole": role, "PartialContent": text, "BeginOffsetMillis": begin,
                          "EndOffsetMillis": end}}


def test_contact_lens_events_map_onto_the_protocol() -> None:
    adapter = AmazonConnectAdapter()
    assert adapter.frames(event("STARTED")) == [{"type": "start", "call_id": CONTACT, "started_at": ""}]
    frames = adapter.frames(event("SEGMENTS", [
        utterance("t2", "CUSTOMER", "我想问一下", 4200, 5000),
        transcript("t1", "AGENT", "您好，12345热线", 0, 1800),
        {"Categories": {"MatchedCategories": [], "MatchedDetails": {}}},
        transcript("t0", "SYSTEM", "录音提示", 0, 10),
    ]))
    assert [(f["speaker"], f["is_final"], f["text"]) for f in frames] == [
        ("caller", False, "我想问一下"), ("agent", True, "您好，12345热线")]
    assert frames[1]["seq"] == 1 and frames[0]["seq"] == 8400  # begin × 2 (+1 for the agent)
    # the final of the partial takes its seq, even with another begin offset; resent, it maps the same
    said = transcript("t2", "CUSTOMER", "我想问一下结婚登记", 4100, 6500)
    final = adapter.frames(event("SEGMENTS", [said]))
    again = adapter.frames(event("SEGMENTS", [said]))
    assert final == again and final[0]["seq"] == 8400 and final[0]["is_final"] is True
    partial = transcript("t3", "CUSTOMER", "嗯", 7000, 7100, IsPartial=True)
    assert adapter.frames(event("SEGMENTS", [partial]))[0]["is_final"] is False
    assert adapter.frames(event("COMPLETED")) == [{"type": "end", "call_id": CONTACT}]

    call = Call(CONTACT)
    for frame in frames + final + again:
        parsed = parse_frame(frame)
        assert isinstance(parsed, Segment)
        call.apply(parsed)
    assert [(s.speaker, s.text) for s in call.finals()] == [("agent", "您好，12345热线"),
                                                            ("caller", "我想问一下结婚登记")]


@pytest.mark.parametrize("bad", [[], {"EventType": "SEGMENTS"}, event("PAUSED"), event("SEGMENTS"),
                                 event("SEGMENTS", [{"Transcript": {"Id": "x", "ParticipantRole": "AGENT",
                                                                    "Content": "x"}}])])
def test_bad_events_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        AmazonConnectAdapter().frames(bad)


async def test_the_adapter_route_feeds_the_call(client: TestClient, auth: dict[str, str]) -> None:
    url = "/api/hotline/adapters/amazon-connect"
    assert (await client.post(url, json=event("STARTED"))).status == 401
    assert (await client.post(url, json=event("STARTED"), headers=auth)).status == 200
    body = event("SEGMENTS", [transcript("t1", "CUSTOMER", "结婚登记需要带什么材料", 1000, 3000)])
    acks = await (await client.post(url, json=body, headers=auth)).json()
    assert acks == [{"type": "ack", "call_id": CONTACT, "seq": 2000, "status": "new"}]
    acks = await (await client.post(url, json=body, headers=auth)).json()
    assert acks[0]["status"] == "duplicate"
    ended = await (await client.post(url, json=event("COMPLETED"), headers=auth)).json()
    assert ended[0]["type"] == "order"
    assert ended[0]["order"]["transcript"] == [{"speaker": "caller", "text": "结婚登记需要带什么材料",
                                                "start_ms": 1000}]
