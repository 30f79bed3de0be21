"""Keeping long conversations' engine sessions short, from the app's side (the action is bot/session.py).

``after_turn``: once the engine session held ``max_events`` events when a turn began (noted by
``action_detect_language``), the engine runs ``action_compact_session`` in the background after the reply
has gone out; the engine's per-conversation lock orders it with the citizen's next turn.

``before_turn``: Rasa starts a new session after a pause measured from the session's last user message, and
a freshly compacted session has none, so it cannot see a pause that follows the compacting turn.  The app
remembers when it compacted; if the citizen's next message comes after more than the session expiry, the
engine first runs its own ``action_session_start`` (a clean session, as after any pause).  Kept in memory:
after an app restart that one pause goes unnoticed and the carried slots stay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.session import ACTION_NAME as COMPACT_SESSION

log = logging.getLogger("civic.compaction")

SESSION_START = "action_session_start"


class Compactor:
    def __init__(self, max_events: int, expiry_minutes: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, capacity: int = 10_000) -> None:
        self.max_events = max_events  # 0: never compact
        self.expiry_s = expiry_minutes * 60
        self.clock = clock
        self.capacity = capacity
        self._running: dict[str, asyncio.Task[None]] = {}
        # session -> when its compaction ended; only touched from the app's event loop, so no lock
        self._compacted: OrderedDict[str, float] = OrderedDict()

    def use_domain(self, domain: dict[str, Any]) -> None:
        """Take the session expiry from the domain's ``session_config`` (minutes; 0 means never)."""
        minutes = (domain.get("session_config") or {}).get("session_expiration_time")
        if isinstance(minutes, int | float):
            self.expiry_s = float(minutes) * 60

    async def before_turn(self, engine: Any, session: str) -> None:
        compacted = self._compacted.pop(session, None)
        execute = getattr(engine, "execute", None)
        if compacted is None or not self.expiry_s or not callable(execute):
            return
        if self.clock() - compacted > self.expiry_s:
            try:
                await execute(session, SESSION_START)
            except Exception as exc:  # the turn still runs, in the compacted session
                log.warning("could not start a new session for %s after a pause: %s", session, exc)

    def after_turn(self, engine: Any, session: str, events: int) -> None:
        execute = getattr(engine, "execute", None)
        if (not self.max_events or events < self.max_events or not callable(execute)
                or session in self._running):
            return
        task = asyncio.get_running_loop().create_task(self._compact(execute, session))
        self._running[session] = task
        task.add_done_callback(lambda _: self._running.pop(session, None))

    async def _compact(self, execute: Any, session: str) -> None:
        try:
            await execute(session, COMPACT_SESSION)
        except Exception as exc:  # the conversation goes on uncompacted; the next long turn tries again
            log.warning("could not compact the session of %s: %s", session, exc)
            return
        self._compacted[session] = self.clock()
        self._compacted.move_to_end(session)
        while len(self._compacted) > self.capacity:
            self._compacted.popitem(last=False)

    async def drain(self) -> None:
        """Wait for the compactions in flight (at shut-down, and in tests)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)
