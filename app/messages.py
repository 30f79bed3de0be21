"""The API's message format, and how the engine's messages and the domain's responses become it.

A message is ``{"text", "buttons": [{"title", "payload"}], "card", "citations"}``: what every connector
receives from ``ChatService`` and shapes for its channel.
"""

from __future__ import annotations

from typing import Any

from bot.texts import pick, text


def new_message(text: str = "", buttons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "text": text,
        "buttons": [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in buttons or []],
        "card": None,
        "citations": [],
    }


def shape(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """Engine (REST channel) messages -> API messages; a ``custom`` payload (card, citations) belongs to
    the text message it follows.  Returns (messages, whether an action handed the session over)."""
    messages: list[dict[str, Any]] = []
    handoff = False
    for m in raw:
        if m.get("text") is not None or m.get("buttons"):
            messages.append(new_message(str(m.get("text") or ""), m.get("buttons")))
        custom = m.get("custom")
        if isinstance(custom, dict):
            handoff = handoff or bool(custom.get("handoff"))
            if not messages:
                messages.append(new_message())
            target = messages[-1]
            if isinstance(custom.get("card"), dict):
                target["card"] = custom["card"]
            if isinstance(custom.get("citations"), list):
                target["citations"].extend(c for c in custom["citations"] if isinstance(c, dict))
    return messages, handoff


def response(domain: dict[str, Any], name: str, language: str, **values: Any) -> dict[str, Any]:
    """The domain response ``name`` in ``language`` as an API message (its text filled in, its buttons)."""
    return new_message(text(domain, name, language, **values), pick(domain, name, language).get("buttons"))
