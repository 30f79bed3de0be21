"""Prometheus metrics: ``GET /metrics`` in the text exposition format (prometheus-client), from a registry the
app owns (never the process-global one, so tests and several apps in one process keep their own series).

Two kinds of series (docs/operations.md, "Metrics", says what each means):

- measured where a turn is handled (``ChatService.handle``): the turn latency histogram by channel, the
  intents, fallbacks, hand-overs, turn modes and failed turns — in-memory counters only, no I/O;
- read at scrape time, off the event loop: the engine state (``app/engine_state.py``), the index generation
  and size (the retriever's ``info()``), the hotline outbox backlog (``app/workorder.py``) and each peer's
  sync lag and last success (``app/peers.py``).

Who may scrape: a loopback client that did not come through a proxy (the rule of the Rasa action endpoint,
``app/actions_endpoint.py``: ``request.remote`` after ``app/headers.py``'s trusted-proxy handling, and no
proxy header), or anyone with an API token of scope ``metrics`` (``civic tokens add NAME --scope metrics``).
Without credentials: 401; with a token of another scope: 403.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import prometheus_client as prom
from aiohttp import web

from app.accounts import SCOPES
from app.actions_endpoint import LOOPBACK, PROXY_HEADERS
from app.keys import ACCOUNTS, ENGINE_MONITOR, HOTLINE, METRICS, RETRIEVER
from app.middlewares import json_error
from app.peers import PEERS

if TYPE_CHECKING:
    from app.chat import Reply

SCOPE = "metrics"
ENGINE_STATES = ("up", "training", "loading", "down")  # EngineMonitor.describe()["state"]
FALLBACK_INTENT = "nlu_fallback"  # the FallbackClassifier's intent (config.yml)
# seconds: a search answer takes milliseconds, a dialogue turn with actions up to the engine timeout (30 s)
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every series of the app, in its own registry."""

    def __init__(self) -> None:
        self.registry = r = prom.CollectorRegistry(auto_describe=True)

        def counter(name: str, doc: str, *labels: str) -> prom.Counter:
            return prom.Counter(name, doc, labels, registry=r)

        def gauge(name: str, doc: str, *labels: str) -> prom.Gauge:
            return prom.Gauge(name, doc, labels, registry=r)

        self.turn_seconds = prom.Histogram("civic_turn_seconds", "Time to answer one citizen turn.",
                                           ["channel"], buckets=TURN_BUCKETS, registry=r)
        self.intents = counter("civic_intents", "Dialogue turns by the intent recognised.", "intent")
        self.fallbacks = counter("civic_fallbacks", "Dialogue turns the NLU did not understand.",
                                 "channel")
        self.handovers = counter("civic_handovers", "Turns that handed the conversation to staff.", "channel")
        self.modes = counter("civic_turn_modes", "Turns by how answered: dialogue, search (engine not ready) "
                             "or paused (a person has the conversation).", "mode")
        self.errors = counter("civic_turn_errors", "Turns that ended in an error, not a reply.", "channel")
        self.engine_state = gauge("civic_engine_state", "1 for the engine's current state, else 0.", "state")
        self.engine_since = gauge("civic_engine_state_since_seconds", "Unix time the engine's state began.")
        self.index_generation = gauge("civic_index_generation", "The retrieval index generation served.")
        self.index_passages = gauge("civic_index_passages", "Passages in the served index.")
        self.index_documents = gauge("civic_index_documents", "Documents in the served index.")
        self.outbox_pending = gauge("civic_outbox_pending", "Submitted work orders not yet delivered.")
        self.peer_lag = gauge("civic_peer_sync_lag", "Feed positions a peer is ahead of what was imported "
                              "(peer_latest - cursor).", "peer")
        self.peer_last_sync = gauge("civic_peer_last_sync_seconds", "Unix time of a peer's last successful "
                                    "sync (0: never).", "peer")
        self.peer_failures = gauge("civic_peer_failures", "A peer's consecutive failed syncs.", "peer")

    # -- measured per turn (event loop; counters only) ----------------------------------------------
    def turn(self, channel: str, reply: Reply, seconds: float) -> None:
        self.turn_seconds.labels(channel).observe(seconds)
        self.modes.labels(reply.mode).inc()
        if reply.mode == "dialogue":
            name = str(reply.intent.get("name") or "none")
            self.intents.labels(name).inc()
            if name == FALLBACK_INTENT:
                self.fallbacks.labels(channel).inc()
        if reply.handoff and reply.mode != "paused":  # a paused session was handed over on an earlier turn
            self.handovers.labels(channel).inc()

    def failed(self, channel: str) -> None:
        self.errors.labels(channel).inc()

    # -- read at scrape time (a worker thread: file and SQLite reads) -------------------------------
    def refresh(self, app: web.Application) -> None:
        monitor = app.get(ENGINE_MONITOR)
        if monitor is not None:
            state = monitor.describe()["state"]
            for name in ENGINE_STATES:
                self.engine_state.labels(name).set(1 if name == state else 0)
            self.engine_since.set(monitor.since)
        info = getattr(app.get(RETRIEVER), "info", None)
        found: dict[str, Any] = info() if callable(info) else {}
        self.index_generation.set(float(found.get("generation") or 0))
        self.index_passages.set(float(found.get("passages") or 0))
        self.index_documents.set(float(found.get("documents") or 0))
        hotline = app.get(HOTLINE)
        orders = getattr(hotline, "orders", None)
        if orders is not None:
            self.outbox_pending.set(sum(1 for row in orders.outbox() if row["delivered_at"] is None))
        self._peers(app)

    def _peers(self, app: web.Application) -> None:
        peers = app.get(PEERS)
        for gauge in (self.peer_lag, self.peer_last_sync, self.peer_failures):
            gauge.clear()  # a removed peer leaves no stale series
        if peers is None:
            return
        for peer in peers.listing():
            self.peer_lag.labels(peer.name).set(max(0, peer.peer_latest - peer.cursor))
            self.peer_last_sync.labels(peer.name).set(_unix(peer.last_sync))
            self.peer_failures.labels(peer.name).set(peer.failures)

    def render(self, app: web.Application) -> bytes:
        self.refresh(app)
        return prom.generate_latest(self.registry)


def _unix(stamp: str) -> float:
    """``2026-12-01T23:00:00Z`` (app/peers.py) as Unix time; 0 for never."""
    if not stamp:
        return 0.0
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def is_local(request: web.Request) -> bool:
    """A loopback client that did not come through a proxy (a relayed request carries its headers)."""
    return request.remote in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS)


async def _refusal(request: web.Request) -> web.Response | None:
    if is_local(request):
        return None
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    presented = value.strip() if scheme.lower() == "bearer" else ""
    accounts = request.app.get(ACCOUNTS)
    if presented and accounts is not None:
        if await asyncio.to_thread(accounts.check_token, presented, SCOPE) is not None:
            return None
        for other in SCOPES:
            if other != SCOPE and await asyncio.to_thread(accounts.check_token, presented, other) is not None:
                return json_error(403, f"a token of scope {other} does not open /metrics: use one of scope "
                                       f"{SCOPE}", "Forbidden")
    response = json_error(401, "metrics are served to loopback, or with 'Authorization: Bearer <token>' of "
                               f"scope {SCOPE}", "Unauthorized")
    response.headers["WWW-Authenticate"] = 'Bearer realm="civic-metrics"'
    return response


async def metrics_page(request: web.Request) -> web.Response:
    refused = await _refusal(request)
    if refused is not None:
        return refused
    metrics = request.app.get(METRICS)
    if metrics is None:
        raise web.HTTPServiceUnavailable(reason="metrics are not open yet")
    body = await asyncio.to_thread(metrics.render, request.app)
    headers = {"Content-Type": prom.CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    return web.Response(body=body, headers=headers)


def setup_metrics_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_page)
