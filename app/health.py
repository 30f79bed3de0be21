"""`GET /healthz`: the app, the engine, the archive and the retrieval index in one answer.

200 only when every part is healthy, 503 otherwise, so a supervisor or load balancer can act on the code.
``answering`` says whether citizens get answers at all (the archive and index are up), and ``mode`` how:
``dialogue`` with the engine, ``search`` while it trains, loads or is down; the engine part says what is
happening ("training the dialogue model: TEDPolicy epoch 12/40, ~1 min left"); ``peers`` the sync of each
subscribed instance (app/peers.py).
"""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

from app.keys import ARCHIVE, ENGINE_MONITOR, STATES, ComponentState
from app.middlewares import dumps
from app.peers import peer_states

STARTED_AT = time.time()


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    monitor = app.get(ENGINE_MONITOR)
    if monitor is not None:
        await monitor.probe()
        engine = monitor.describe()
    else:
        engine = {"healthy": False, "state": "down", "detail": "not started"}
    started: dict[str, ComponentState] = app[STATES]
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
    answering = all(p["ok"] for p in parts.values())
    healthy = bool(engine["healthy"]) and answering
    body = {
        "status": "ok" if healthy else "degraded",
        "answering": answering,
        "mode": "dialogue" if engine["healthy"] else "search",
        "app": {"ok": True, "pid": os.getpid(), "uptime_s": round(time.time() - STARTED_AT, 1)},
        "engine": engine,
        **parts,
        # each subscribed instance: last sync, cursor, last error, clashes (not part of ``status``: a peer
        # that is down does not stop this instance from answering)
        "peers": {name: state async for name, state in peer_states(app)},
    }
    return web.json_response(body, status=200 if healthy else 503, dumps=dumps)
