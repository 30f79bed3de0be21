"""Small helpers every action module shares: reading the turn, citing sources, building buttons."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker

from bot import texts
from retrieval.types import Citation


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("language") == "en" else "zh"


def entity(tracker: Tracker, name: str) -> str | None:
    """The (synonym-mapped) value of the last ``name`` entity in the latest message."""
    values = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]
    values = [v for v in values if isinstance(v, str) and v.strip()]
    return values[-1].strip() if values else None


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


def transcript(tracker: Tracker, limit: int = 40) -> list[dict[str, str]]:
    """The conversation so far as (role, text) pairs, newest last."""
    lines = []
    for event in tracker.events:
        kind = event.get("event")
        if kind in ("user", "bot") and event.get("text"):
            lines.append({"role": "citizen" if kind == "user" else "bot", "text": str(event["text"])})
    return lines[-limit:]
