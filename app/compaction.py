"""Keeping long conversations' engine sessions short, from the app's side (the action is bot/session.py).

``after_turn``: once the engine session holds ``max_events`` events after a turn (the engine's ``civic``
channel says how many in its answer), the engine runs ``action_compact_session`` in the background after the
reply has gone out; the engine's per-conversation lock orders it with the citizen's next turn.

``before_turn``: Rasa starts a new session after a pause measured from the session's last user message, and
a freshly compacted session has none, so it cannot see a pause that follows the compacting turn.  The
compaction records when it happened (``app.db``, by the action, in whichever app process runs it); the first
turn after it checks whether more than the session expiry has passed, and if so the engine first runs its own
``action_session_start`` (a clean session, as after any pause).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.session import ACTION_NAME as COMPACT_SESSION

log = logging.getLogger("civic.compaction")

SESSION_START = "action_session_start"


class CompactionStore(Protocol):
    """What the compactor needs from app.conversations.Conversations."""

    def take_compaction(self, session: str) -> float | None: ...


class Compactor:
    def __init__(self, max_events: int, store: CompactionStore, expiry_minutes: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_events = max_events  # 0: never compact
        self.store = store
        self.expiry_s = expiry_minutes * 60
        self.clock = clock
        self._running: dict[str, asyncio.Task[None]] = {}  # this process's compactions in flight

    @classmethod
    def for_domain(cls, max_events: int, store: CompactionStore, domain: dict[str, Any]) -> Compactor:
        """Session expiry from the domain's ``session_config`` (minutes; 0 means never)."""
        minutes = (domain.get("session_config") or {}).get("session_expiration_time")
        return cls(max_events, store, float(minutes) if isinstance(minutes, int | float) else 60.0)

    async def before_turn(self, engine: Any, session: str) -> None:
        if not self.expiry_s:
            return
        compacted = await asyncio.to_thread(self.store.take_compaction, session)
        if compacted is not None and self.clock() - compacted > self.expiry_s:
            try:
                await engine.execute(session, SESSION_START)
            except Exception as exc:  # the turn still runs, in the compacted session
                log.warning("could not start a new session for %s after a pause: %s", session, exc)

    def after_turn(self, engine: Any, session: str, events: int) -> None:
        if not self.max_events or events < self.max_events or session in self._running:
            return
        task = asyncio.get_running_loop().create_task(self._compact(engine, session))
        self._running[session] = task
        task.add_done_callback(lambda _: self._running.pop(session, None))

    async def _compact(self, engine: Any, session: str) -> None:
        try:
            await engine.execute(session, COMPACT_SESSION)
        except Exception as exc:  # the conversation goes on uncompacted; the next long turn tries again
            log.warning("could not compact the session of %s: %s", session, exc)

    async def drain(self) -> None:
        """Wait for the compactions in flight (at shut-down, and in tests)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
