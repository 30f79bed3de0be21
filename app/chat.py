"""ChatService: the one entry every connector (web chat, Telegram, WeChat, hotline) calls for a turn.

It forwards the citizen's text to the Rasa engine and shapes the engine's replies into the API's
message format. Owned by the dialogue work; connectors and routes only call ``handle``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class Engine(Protocol):
    """What ChatService needs from the Rasa engine (app.engine_client.RasaClient implements it)."""

    async def send(self, session: str, text: str) -> list[dict[str, Any]]: ...


@dataclass
class Reply:
    session: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ChatService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def handle(self, session: str, text: str) -> Reply:
        raw = await self.engine.send(session, text)
        return Reply(session=session, messages=[{"text": m.get("text", "")} for m in raw if m.get("text")])
