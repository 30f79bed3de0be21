"""Fakes for the app's fast tests: an engine speaking the civic channel's answer, a retriever that finds
nothing.  The real engine path is covered end to end in tests/serve/test_stack.py and tests/dialogue."""

from __future__ import annotations

from typing import Any

from app.engine_client import EngineHealth, EngineTurn
from core.errors import EngineUnavailable
from retrieval.types import Filters, Hit


class FakeEngine:
    """Echoes the text back as the engine's reply; ``up`` switches reachability."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.turns: list[tuple[str, str]] = []
        self.metadata: list[dict[str, Any]] = []
        self.intents: list[str | None] = []
        self.executed: list[tuple[str, str]] = []
        self.closed = False
        self.events = 5
        self.requested_slot: str | None = None

    async def send(
        self, session: str, text: str, metadata: dict[str, Any] | None = None, intent: str | None = None
    ) -> EngineTurn:
        if not self.up:
            raise EngineUnavailable("engine at http://127.0.0.1:1 not answering: connection refused")
        self.turns.append((session, text))
        self.metadata.append(dict(metadata or {}))
        self.intents.append(intent)
        return EngineTurn([{"recipient_id": session, "text": f"echo:{text}"}],
                          {"name": "greet", "confidence": 0.9}, self.events,
                          requested_slot=self.requested_slot)

    async def execute(self, session: str, action: str) -> None:
        self.executed.append((session, action))

    async def health(self) -> EngineHealth:
        if not self.up:
            return EngineHealth(reachable=False, error="connection refused")
        return EngineHealth(reachable=True, model="20260101-000000-test.tar.gz")

    async def close(self) -> None:
        self.closed = True


class FakeRetriever:
    """Loads nothing, finds nothing."""

    def __init__(self) -> None:
        self.warmed = False

    def warm_up(self) -> None:
        self.warmed = True

    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]:
        return []
