"""Is the dialogue engine ready?  One answer for the whole app, kept current by a background probe.

While the engine is training, loading its model, restarting after a crash or simply not there, a citizen's
message gets a search answer instead (``app/standby.py``); the moment the probe sees a model loaded the app
switches back to the full dialogue, without a restart.  A turn that fails to reach the engine marks it down at
once, so the next message does not wait for a timeout.  ``describe()`` is what /healthz shows, including the
progress of a running training ("training the dialogue model: TEDPolicy epoch 12/40, ~1 min left").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from app.engine_client import Engine, EngineHealth
from core import progress

log = logging.getLogger("civic.engine")

PROBE_WHILE_DOWN = 1.0  # seconds between probes while the engine is not ready
PROBE_WHILE_UP = 5.0


class EngineMonitor:
    def __init__(self, engine: Engine, progress_file: Path | None = None) -> None:
        self.engine = engine
        self.progress_file = progress_file
        self.health = EngineHealth(reachable=False, error="not probed yet")
        self.since = time.time()  # when the current state began
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self.health.healthy

    async def probe(self) -> EngineHealth:
        health = await self.engine.health()
        if health.healthy != self.health.healthy:
            self.since = time.time()
            log.info("dialogue engine %s", "ready" if health.healthy else f"not ready: {health.error}")
        self.health = health
        return health

    def mark_down(self, reason: str) -> None:
        """A turn could not reach the engine: answer from search until the probe sees it again."""
        if self.health.healthy:
            self.since = time.time()
            log.warning("dialogue engine not answering: %s", reason)
        self.health = EngineHealth(reachable=False, error=reason)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.probe()
            self._wake.clear()
            period = PROBE_WHILE_UP if self.ready else PROBE_WHILE_DOWN
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=period)

    async def start(self) -> None:
        await self.probe()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def training(self) -> progress.TrainingProgress | None:
        if self.progress_file is None:
            return None
        found = progress.read(self.progress_file)
        return found if found is not None and (found.is_running() or found.state == progress.FAILED) else None

    def describe(self) -> dict[str, Any]:
        """The engine part of /healthz: state, model, and what is happening when it is not ready."""
        training = self.training()
        if self.ready:
            state, detail = "up", ""
        elif training is not None and training.is_running():
            state, detail = "training", training.describe()
        elif self.health.reachable:
            state, detail = "loading", "the engine is loading its model"
        else:
            state, detail = "down", self.health.error
        body = {**self.health.to_json(), "state": state, "since": round(self.since, 1), "detail": detail}
        if training is not None:
            body["training"] = training.to_json()
        return body
