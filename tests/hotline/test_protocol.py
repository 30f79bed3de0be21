"""The protocol and a call's state (connectors/hotline.py): validation, idempotence, reordering, partials."""

from __future__ import annotations

import pytest

from connectors.hotline import Call, Calls, End, Segment, Start, Suggestion, Suggestions, parse_frame
from core.errors import InvalidInput, NotFound


def seg(seq: int, text: str, final: bool = True, speaker: str = "caller") -> Segment:
    return Segment("c1", seq, speaker, text, final, seq * 1000, seq * 1000 + 900)


def test_frames_parse() -> None:
    assert parse_frame({"type": "start", "call_id": "c1", "line": "12345"}) == Start("c1", "", "12345")
    assert parse_frame({"type": "end", "call_id": "c1"}) == End("c1")
    frame = parse_frame({"type": "segment", "call_id": "c1", "seq": 3, "speaker": "agent", "text": " 您好 ",
                         "is_final": True, "start_ms": 10, "end_ms": 20, "confidence": 0.9})
    assert frame == Segment("c1", 3, "agent", "您好", True, 10, 20, 0.9)


S = {"type": "segment", "call_id": "c", "seq": 1, "speaker": "caller", "text": "x", "is_final": True}


@pytest.mark.parametrize(("frame", "message"), [
    ([], "JSON object"),
    ({"type": "hello"}, "unknown frame type"),
    ({"type": "start"}, "call_id"),
    ({"type": "start", "call_id": "a b"}, "call_id"),
    ({**S, "seq": -1}, "seq"),
    ({**S, "seq": "1"}, "seq"),
    ({**S, "speaker": "bot"}, "speaker"),
    ({**S, "text": 5}, "text"),
    ({**S, "text": "x" * 2001}, "longer"),
    ({**S, "is_final": 1}, "is_final"),
    ({**S, "start_ms": 9, "end_ms": 3}, "end_ms"),
    ({**S, "confidence": 2}, "confidence"),
])
def test_bad_frames_say_what_is_wrong(frame: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_frame(frame)


def test_resent_segments_count_once_and_reordered_ones_are_put_back() -> None:
    call = Call("c1")
    assert call.apply(seg(2, "第二句")) == "new"
    assert call.apply(seg(0, "第一句")) == "new"
    assert call.apply(seg(2, "第二句")) == "duplicate"
    assert call.apply(seg(1, "中间")) == "new"
    assert [s.text for s in call.ordered()] == ["第一句", "中间", "第二句"]
    assert len(call.segments) == 3


def test_a_partial_is_replaced_by_its_final_and_never_the_other_way() -> None:
    call = Call("c1")
    assert call.apply(seg(0, "我想问", final=False)) == "new"
    assert call.apply(seg(0, "我想问一下结婚", final=False)) == "replaced"
    assert call.finals() == []
    assert call.apply(seg(0, "我想问一下结婚登记")) == "replaced"
    assert call.apply(seg(0, "我想问", final=False)) == "stale"
    assert call.apply(seg(0, "别的说法")) == "duplicate"
    assert [s.text for s in call.finals()] == ["我想问一下结婚登记"]


def test_caller_words_are_the_recent_finals_with_the_partial_last() -> None:
    call = Call("c1")
    for i, text in enumerate(["一", "二", "三", "四"]):
        call.apply(seg(i, text))
    call.apply(seg(9, "坐席说话", speaker="agent"))
    assert call.caller_words(3) == ["二", "三", "四"]
    assert call.caller_words(3, seg(10, "五", final=False)) == ["三", "四", "五"]


def test_calls_forget_old_ended_calls_only() -> None:
    forgotten: list[str] = []
    calls = Calls(max_ended=2, on_forget=forgotten.extend)
    for i in range(4):
        calls.open(f"c{i}")
        calls.end(f"c{i}")
    calls.open("live")
    assert calls.find("c0") is None and calls.find("c3") is not None
    assert forgotten == ["c0", "c1"]
    assert [c.call_id for c in calls.live()] == ["live"]
    with pytest.raises(NotFound):
        calls.get("c0")


def sug(doc_id: str, score: float) -> Suggestion:
    return Suggestion(doc_id, doc_id, "passage", {"id": doc_id}, score=score)


def test_suggestions_are_stable_unless_clearly_beaten() -> None:
    state = Suggestions()
    assert state.update({"a": sug("a", 0.9), "b": sug("b", 0.8), "c": sug("c", 0.7)})
    assert state.shown == ["a", "b", "c"]
    # a newcomer a little better than the weakest does not push it out; the order does not flicker
    assert not state.update({"d": sug("d", 0.55), "c": sug("c", 0.1), "b": sug("b", 0.05)})
    assert state.shown == ["a", "b", "c"]
    # one that clearly beats them takes the weakest's place
    assert state.update({"e": sug("e", 2.0)})
    assert "e" in state.shown and len(state.shown) == 3 and len(set(state.shown)) == 3


def test_a_pinned_suggestion_stays() -> None:
    state = Suggestions()
    state.update({"a": sug("a", 0.9), "b": sug("b", 0.8), "c": sug("c", 0.1)})
    state.pin("c")
    for _ in range(5):
        state.update({"x": sug("x", 3.0), "y": sug("y", 3.0), "z": sug("z", 3.0)})
    assert "c" in state.shown
    assert state.to_json()[state.shown.index("c")]["pinned"] is True
    with pytest.raises(NotFound):
        state.pin("nope")
