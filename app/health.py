"""`GET /healthz`: the app, the engine, the archive and the retrieval index in one answer.

200 only when every part is healthy, 503 otherwise, so a supervisor or load balancer can act on the code.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from app.keys import ARCHIVE, ENGINE, STATES
from app.middlewares import dumps

STARTED_AT = time.time()


@dataclass
class ComponentState:
    """How a resource opened at start-up fared; ``detail`` says why when it is not ok."""

    ok: bool
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    engine = (await app[ENGINE].health()).to_json()
    started = app[STATES]
    states = dict(started)
    archive = app.get(ARCHIVE)
    if archive is not None and states.get("archive", ComponentState(False)).ok:
        try:  # live check: the database still answers
            stats = await asyncio.to_thread(archive.stats)
            states["archive"] = ComponentState(True, info=stats)
        except Exception as exc:
            states["archive"] = ComponentState(False, f"archive not answering: {exc}")
    missing = ComponentState(False, "not started")
    parts = {name: states.get(name, missing).to_json() for name in ("archive", "index")}
    healthy = engine["healthy"] and all(p["ok"] for p in parts.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "app": {"ok": True, "pid": os.getpid(), "uptime_s": round(time.time() - STARTED_AT, 1)},
        "engine": engine,
        **parts,
    }
    return web.json_response(body, status=200 if healthy else 503, dumps=dumps)
