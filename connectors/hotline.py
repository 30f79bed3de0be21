"""The hotline transcript connector: the protocol a call centre's speech-to-text speaks, and a call's state.

Protocol version ``PROTOCOL_VERSION`` (docs/hotline.md).  Frames are JSON objects:

* ``{"type": "start", "call_id", "started_at"?, "line"?}``
* ``{"type": "segment", "call_id", "seq", "speaker": "caller"|"agent", "text", "is_final", "start_ms",
  "end_ms", "confidence"?}``
* ``{"type": "end", "call_id"}``

A call's segments are keyed by ``seq`` (a non-negative integer the sender numbers its utterances with):

* a resent segment (same ``seq``, same finality) changes nothing and is reported as a duplicate;
* a partial (``is_final: false``) is replaced by a later partial or by the final of the same ``seq``; a final
  is never replaced (a late partial after its final is ignored);
* segments are kept in ``seq`` order whatever order they arrive in.

:func:`parse_frame` turns one decoded JSON value into a frame or raises :class:`core.errors.InvalidInput`
with a message that names the field, so a bad frame is answered and the socket's other calls go on.

:class:`Suggestions` is a call's live suggestion list: fresh search scores are blended into what the call
has seen so far, and a suggestion keeps its place unless a new one clearly beats it (no flicker).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.errors import InvalidInput, NotFound

PROTOCOL_VERSION = "1"
SPEAKERS = ("caller", "agent")
MAX_CALL_ID_CHARS = 128
MAX_SEGMENT_CHARS = 2000
MAX_SEGMENTS_PER_CALL = 5000
MAX_ENDED_CALLS = 1000  # ended calls remembered (a resent end, the GET of its suggestions, the order)

Applied = Literal["new", "replaced", "duplicate", "stale"]


@dataclass(frozen=True)
class Segment:
    call_id: str
    seq: int
    speaker: str
    text: str
    is_final: bool
    start_ms: int
    end_ms: int
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Start:
    call_id: str
    started_at: str = ""
    line: str = ""
    suggestions: bool = True  # whether this socket wants the call's suggestion frames


@dataclass(frozen=True)
class End:
    call_id: str


Frame = Start | Segment | End


def check_call_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("call_id must be a non-empty string")
    value = value.strip()
    if len(value) > MAX_CALL_ID_CHARS or any(ch.isspace() or ch in "/?#" for ch in value):
        raise InvalidInput(f"call_id must be at most {MAX_CALL_ID_CHARS} characters without spaces, / ? or #")
    return value


def _int(obj: dict[str, Any], name: str, default: int | None = None) -> int:
    value = obj.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer, not {value!r}")
    return value


def parse_segment(obj: Any, call_id: str | None = None) -> Segment:
    """One segment object; ``call_id`` is the call the URL names (the object's own, if any, must match)."""
    if not isinstance(obj, dict):
        raise InvalidInput("a segment must be a JSON object")
    given = obj.get("call_id")
    if call_id is None:
        cid = check_call_id(given)
    else:
        cid = check_call_id(call_id)
        if given is not None and given != cid:
            raise InvalidInput(f"the segment's call_id {given!r} is not the call {cid!r}")
    seq = _int(obj, "seq")
    speaker = obj.get("speaker")
    if speaker not in SPEAKERS:
        raise InvalidInput(f"speaker must be one of {', '.join(SPEAKERS)}, not {speaker!r}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise InvalidInput("text must be a string")
    if len(text) > MAX_SEGMENT_CHARS:
        raise InvalidInput(f"text is longer than {MAX_SEGMENT_CHARS} characters")
    is_final = obj.get("is_final")
    if not isinstance(is_final, bool):
        raise InvalidInput("is_final must be true or false")
    start_ms = _int(obj, "start_ms", 0)
    end_ms = _int(obj, "end_ms", start_ms)
    if end_ms < start_ms:
        raise InvalidInput("end_ms must not be before start_ms")
    confidence = obj.get("confidence")
    if confidence is not None:
        if (isinstance(confidence, bool) or not isinstance(confidence, int | float)
                or not 0 <= confidence <= 1):
            raise InvalidInput("confidence must be a number between 0 and 1")
        confidence = float(confidence)
    return Segment(cid, seq, speaker, text.strip(), is_final, start_ms, end_ms, confidence)


def parse_frame(obj: Any) -> Frame:
    """A decoded JSON value → a frame (InvalidInput names what is wrong)."""
    if not isinstance(obj, dict):
        raise InvalidInput('a frame must be a JSON object with a "type"')
    kind = obj.get("type")
    if kind == "segment":
        return parse_segment(obj)
    if kind == "start":
        started_at, line = obj.get("started_at", ""), obj.get("line", "")
        if not isinstance(started_at, str) or not isinstance(line, str):
            raise InvalidInput("started_at and line must be strings")
        wants = obj.get("suggestions", True)
        if not isinstance(wants, bool):
            raise InvalidInput("suggestions must be true or false")
        return Start(check_call_id(obj.get("call_id")), started_at[:64], line[:64], wants)
    if kind == "end":
        return End(check_call_id(obj.get("call_id")))
    raise InvalidInput(f"unknown frame type {kind!r}; expected start, segment or end")


@dataclass
class Call:
    """One call's transcript: segments by seq, partials replaced by finals."""

    call_id: str
    started_at: str = ""
    line: str = ""
    opened: float = field(default_factory=time.time)
    ended: bool = False
    segments: dict[int, Segment] = field(default_factory=dict)

    def apply(self, segment: Segment) -> Applied:
        if segment.call_id != self.call_id:
            raise InvalidInput(f"segment of call {segment.call_id!r} applied to call {self.call_id!r}")
        old = self.segments.get(segment.seq)
        if old is None:
            if len(self.segments) >= MAX_SEGMENTS_PER_CALL:
                raise InvalidInput(f"a call holds at most {MAX_SEGMENTS_PER_CALL} segments")
            self.segments[segment.seq] = segment
            return "new"
        if old == segment:
            return "duplicate"
        if old.is_final:
            # a final is the last word on its seq: a differing resent final or a late partial changes nothing
            return "duplicate" if segment.is_final else "stale"
        self.segments[segment.seq] = segment
        return "replaced"

    def ordered(self) -> list[Segment]:
        return [self.segments[seq] for seq in sorted(self.segments)]

    def finals(self, speaker: str | None = None) -> list[Segment]:
        return [s for s in self.ordered()
                if s.is_final and s.text and (speaker is None or s.speaker == speaker)]

    def caller_words(self, window: int = 3, partial: Segment | None = None) -> list[str]:
        """The caller's most recent final segments (oldest first), and ``partial`` last when given."""
        texts = [s.text for s in self.finals("caller")][-window:]
        if partial is not None and partial.text:
            texts = [*texts[-(window - 1):], partial.text] if window > 1 else [partial.text]
        return texts


class Calls:
    """The calls in progress, and the most recently ended ones (bounded)."""

    def __init__(self, max_ended: int = MAX_ENDED_CALLS,
                 on_forget: Callable[[list[str]], None] | None = None) -> None:
        self._calls: OrderedDict[str, Call] = OrderedDict()
        self._max_ended = max_ended
        self._on_forget = on_forget

    def open(self, call_id: str, started_at: str = "", line: str = "") -> Call:
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = Call(call_id, started_at, line)
            self._trim()
        elif not call.ended:
            call.started_at = call.started_at or started_at
            call.line = call.line or line
        return call

    def restore(self, call: Call) -> None:
        """Take back a call that was in progress when the app stopped (connectors/hotline_journal.py)."""
        self._calls.setdefault(call.call_id, call)

    def get(self, call_id: str) -> Call:
        call = self._calls.get(call_id)
        if call is None:
            raise NotFound(f"no call {call_id!r}")
        return call

    def find(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def live(self) -> list[Call]:
        return [c for c in self._calls.values() if not c.ended]

    def end(self, call_id: str) -> Call:
        call = self.get(call_id)
        call.ended = True
        self._calls.move_to_end(call_id)
        self._trim()
        return call

    def _trim(self) -> None:
        ended = [cid for cid, c in self._calls.items() if c.ended]
        forgotten = ended[: max(0, len(ended) - self._max_ended)]
        for cid in forgotten:
            del self._calls[cid]
        if forgotten and self._on_forget is not None:
            self._on_forget(forgotten)


# -- live suggestions ----------------------------------------------------------------------------------------
TOP = 3
WEIGHTS = (1.0, 0.45)  # the latest segment alone, the caller's recent words together
DECAY = 0.7  # how much of a document's earlier evidence carries into the next update
MARGIN = 0.15  # a newcomer must beat a shown suggestion by this share to take its place
MIN_SCORE = 0.05


@dataclass
class Suggestion:
    doc_id: str
    title: str
    passage: str
    citation: dict[str, Any]
    field: str = ""
    validity: str = ""  # "" when in force; otherwise what to tell the caller (expired, replaced by …)
    superseded_by: dict[str, Any] | None = None
    score: float = 0.0
    first_seen: int = 0  # the update in which the call first suggested it

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "passage": self.passage,
                "citation": self.citation, "field": self.field, "validity": self.validity,
                "superseded_by": self.superseded_by,
                "score": round(self.score, 4)}


def blend(results: list[tuple[float, dict[str, Suggestion]]]) -> dict[str, Suggestion]:
    """Weighted scores of several searches (each ``{doc_id: suggestion}`` with its own score) summed per
    document; the suggestion's passage is the one from the most heavily weighted search that found it."""
    out: dict[str, Suggestion] = {}
    for weight, found in results:
        for doc_id, s in found.items():
            if doc_id in out:
                out[doc_id].score += weight * s.score
            else:
                out[doc_id] = Suggestion(**{**asdict(s), "score": weight * s.score})
    return out


class Suggestions:
    """A call's suggestion list: at most ``TOP``, each document once, stable across updates."""

    def __init__(self) -> None:
        self.known: dict[str, Suggestion] = {}  # every document the call's searches found, with its evidence
        self.shown: list[str] = []
        self.pinned: list[str] = []
        self.ever_shown: set[str] = set()
        self.updates = 0
        self.app_nos: list[str] = []  # application numbers the caller read out (the status card on offer)

    def update(self, fresh: dict[str, Suggestion]) -> bool:
        """Blend fresh scores in; True when the shown list changed (order or members)."""
        self.updates += 1
        for s in self.known.values():
            s.score *= DECAY
        for doc_id, s in fresh.items():
            old = self.known.get(doc_id)
            if old is None:
                self.known[doc_id] = Suggestion(**{**asdict(s), "first_seen": self.updates})
            else:
                old.score += s.score
                old.passage, old.field, old.citation = s.passage, s.field, s.citation
                old.validity, old.superseded_by = s.validity, s.superseded_by
        before = list(self.shown)
        score = {d: self.known[d].score for d in self.known}
        shown = [d for d in self.shown if (d in score and score[d] >= MIN_SCORE) or d in self.pinned]
        for doc_id in sorted(score, key=lambda d: -score[d]):
            if doc_id in shown or score[doc_id] < MIN_SCORE:
                continue
            if len(shown) < TOP:
                shown.append(doc_id)
                continue
            replaceable = [d for d in shown if d not in self.pinned]
            if not replaceable:
                break
            weakest = min(replaceable, key=lambda d: score[d])
            if score[doc_id] > score[weakest] * (1 + MARGIN):
                shown[shown.index(weakest)] = doc_id
        # reorder only where the lower one clearly beats the one above it
        for _ in range(len(shown)):
            for i in range(len(shown) - 1):
                upper, lower = shown[i], shown[i + 1]
                if upper not in self.pinned and score[lower] > score[upper] * (1 + MARGIN):
                    shown[i], shown[i + 1] = lower, upper
        self.shown = shown
        self.ever_shown.update(shown)
        return shown != before

    def pin(self, doc_id: str) -> None:
        if doc_id not in self.known:
            raise NotFound(f"{doc_id!r} is not among this call's suggestions")
        if doc_id not in self.pinned:
            self.pinned.append(doc_id)
        if doc_id not in self.shown:
            self.shown.append(doc_id)

    def current(self) -> list[Suggestion]:
        return [self.known[d] for d in self.shown]

    def to_json(self) -> list[dict[str, Any]]:
        return [{**s.to_json(), "pinned": s.doc_id in self.pinned} for s in self.current()]

