"""Small helpers every action module shares: reading the turn, citing sources, building buttons."""

from __future__ import annotations

import json
from typing import Any, Protocol

from rasa_sdk import Tracker

from bot import texts
from retrieval.types import Citation


class CarriedTranscripts(Protocol):
    def carried_transcript(self, session: str, mark: str | None) -> list[dict[str, str]]: ...


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("language") == "en" else "zh"


def entities(tracker: Tracker, name: str) -> list[str]:
    """Every (synonym-mapped) value of ``name`` in the latest message; the regex extractor's first."""
    found = [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]
    found.sort(key=lambda e: e.get("extractor") != "RegexEntityExtractor")
    values = [str(e["value"]).strip() for e in found if isinstance(e.get("value"), str)]
    return [v for v in dict.fromkeys(values) if v]


def entity(tracker: Tracker, name: str) -> str | None:
    """The best value of the ``name`` entity in the latest message (a regex match beats a model guess)."""
    values = entities(tracker, name)
    return values[0] if values else None


def entity_spans(tracker: Tracker, name: str) -> list[str]:
    """The words the citizen typed for the ``name`` entities (before any synonym mapping)."""
    text = str(tracker.latest_message.get("text") or "")
    spans = []
    for e in tracker.latest_message.get("entities") or []:
        start, end = e.get("start"), e.get("end")
        if e.get("entity") == name and isinstance(start, int) and isinstance(end, int) and end > start:
            spans.append(text[start:end])
    return spans


def latest_intent(tracker: Tracker) -> dict[str, Any]:
    """The intent of the latest message as ``{"name", "confidence"}`` (name None before any message)."""
    intent = tracker.latest_message.get("intent") or {}
    return {"name": intent.get("name"), "confidence": round(float(intent.get("confidence") or 0.0), 4)}


def slot_before_turn(tracker: Tracker, name: str) -> Any:
    """The value slot ``name`` had before the latest message: its mappings may already have overwritten it
    with what the NLU tagged in this very message."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    in_this_turn = any(e.get("event") == "slot" and e.get("name") == name for e in events[last_user:])
    return None if in_this_turn else tracker.get_slot(name)


def intent_name(tracker: Tracker) -> str | None:
    name = latest_intent(tracker)["name"]
    return str(name) if name else None


def user_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def cite(citations: list[Citation]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for c in citations:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c.to_dict())
    return out


def payload(intent: str, **entities: str) -> str:
    """A button payload Rasa parses without NLU: ``/intent{"entity": "value"}``."""
    values = {k: v for k, v in entities.items() if v}
    return f"/{intent}{json.dumps(values, ensure_ascii=False)}" if values else f"/{intent}"


def label(domain: dict[str, Any], name: str, lang: str) -> str:
    return texts.text(domain, name, lang)


TRANSCRIPT_LINES = 40
# metadata key of the ``session_started`` event a compaction writes (bot/session.py): which carried lines
# belong to this session
CARRIED_MARK = "carried_transcript"


def session_mark(tracker: Tracker) -> str | None:
    """The compaction mark of the engine session the tracker holds; None for a session Rasa started."""
    for event in tracker.events:
        if event.get("event") == "session_started":
            mark = (event.get("metadata") or {}).get(CARRIED_MARK)
            return str(mark) if mark else None
    return None


def transcript(
    tracker: Tracker, limit: int = TRANSCRIPT_LINES, conversations: CarriedTranscripts | None = None
) -> list[dict[str, str]]:
    """The conversation so far as (role, text) pairs, newest last.  With ``conversations``, the lines of
    the part a compacted session no longer holds (``bot/session.py``) come first."""
    lines = conversations.carried_transcript(tracker.sender_id, session_mark(tracker)) \
        if conversations is not None else []
    for event in tracker.events:
        kind = event.get("event")
        if kind in ("user", "bot") and event.get("text"):
            lines.append({"role": "citizen" if kind == "user" else "bot", "text": str(event["text"])})
    return lines[-limit:]
