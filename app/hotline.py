"""The hotline routes: the call centre's transcripts in, live suggestions and the drafted work order out.

Every route needs ``Authorization: Bearer <token>`` with an API token of scope ``hotline``
(``civic tokens add NAME --scope hotline``); without one, or with a wrong one, the answer is 401.

  GET  /api/hotline/stream                       WebSocket: start / segment / end frames in, an ack per frame,
                                                 suggestion, status-offer and order frames out
  POST /api/hotline/calls/{call_id}/segments     one segment object or a list → the acks
  POST /api/hotline/calls/{call_id}/end          → the drafted work order
  GET  /api/hotline/calls/{call_id}/suggestions  → the current suggestions (doc_id, title, passage, citation…)
  GET  /api/hotline/calls/{call_id}/live         WebSocket for the agent's console: the call's frames only
  POST /api/hotline/calls/{call_id}/pin          {"doc_id"} the agent used a suggestion (it goes on the order)
  GET  /api/hotline/calls/{call_id}/status/{app_no}  the status card of an application the caller read out
                                                 (audit-logged)
  GET  /api/hotline/calls/{call_id}/order        the order (draft or submitted)
  PUT  /api/hotline/calls/{call_id}/order        the agent's edits saved on the draft (audit-logged)
  POST /api/hotline/calls/{call_id}/order        the agent's edits → submitted, into the outbox (audit-logged)
  POST /api/hotline/adapters/amazon-connect      one Amazon Connect Contact Lens event (connectors/
                                                 hotline_adapters.py) → the same handling as the stream

The protocol is in docs/hotline.md.  Searches, SQLite and the classifier run on the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from app.audit import AuditLog
from app.hotline_classifier import Loaded, corrections, load_or_train
from app.keys import ACCOUNTS, ARCHIVE, AUDIT, HOTLINE, RETRIEVER, SETTINGS, STATES, ComponentState
from app.middlewares import dumps, json_error
from app.workorder import CATEGORIES, Classifier, Orders, Routing, Webhook, WorkOrder, draft
from bot.common import cite
from bot.search_answer import MAX_PASSAGE_CHARS
from bot.status import normalise_app_no
from connectors.hotline import (
    PROTOCOL_VERSION,
    Call,
    Calls,
    End,
    Frame,
    Segment,
    Start,
    Suggestion,
    Suggestions,
    blend,
    check_call_id,
    parse_frame,
    parse_segment,
)
from connectors.hotline_adapters import AmazonConnectAdapter
from connectors.hotline_journal import CallJournal
from core.errors import CivicError, InvalidInput, NotFound
from core.pii import mask
from core.settings import Settings

log = logging.getLogger("civic.hotline")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACTOR: web.RequestKey[str] = web.RequestKey("hotline_actor")  # who is calling: token (and agent) name
MAX_FRAME_BYTES = 64 * 1024
MAX_SEGMENTS_PER_POST = 200
PARTIAL_INTERVAL = 1.0  # seconds: partials trigger a search at most this often per call
SEARCH_K = 5
WINDOW = 3  # the caller's recent final segments a search reads
WEIGHT_LATEST, WEIGHT_WINDOW = 1.0, 0.45


def validity(hit: Any) -> str:
    """``in_force``, or the document's status when it is not (expired, abolished)."""
    return "in_force" if hit.is_current else str(hit.citation.status)


def suggestion_of(hit: Any) -> Suggestion:
    """A search hit as a suggestion: its best passage cut like the chat's search answer, its citation and
    its replacement's (bot.common.cite, the one citation rule)."""
    passage = hit.passages[0]
    cited = cite([hit.citation] + ([hit.superseded_by] if hit.superseded_by else []))
    return Suggestion(doc_id=hit.doc_id, title=hit.title, passage=passage.text[:MAX_PASSAGE_CHARS],
                      citation=cited[0], field=passage.field, validity=validity(hit),
                      superseded_by=cited[1] if len(cited) > 1 else None, score=float(hit.score))


def masked_line(seg: Segment) -> dict[str, Any]:
    """One transcript line as the staff console shows it (its GET and its ``transcript`` frames): masked as
    the work order masks it (``core.pii.mask(caller=True)``)."""
    return {"seq": seg.seq, "speaker": seg.speaker, "is_final": seg.is_final, "start_ms": seg.start_ms,
            "text": mask(seg.text, caller=True)}


class HotlineService:
    """The calls in progress, their suggestions and the sockets that follow them."""

    def __init__(self, retriever: Any, archive: Any = None, audit_log: AuditLog | None = None,
                 orders: Orders | None = None, classifier: Classifier | None = None,
                 routing: Routing | None = None, keep_raw_days: int = 0, webhook: Webhook | None = None,
                 clock: Callable[[], float] = time.monotonic, journal: CallJournal | None = None) -> None:
        """Without ``orders``, ``classifier`` and ``routing`` the service only suggests (the bench); with a
        ``journal`` every call in progress is written through to app.db before its segments are acked."""
        self.journal = journal
        self.retriever, self.archive, self.audit_log = retriever, archive, audit_log
        self.orders, self.classifier, self.routing, self.webhook = orders, classifier, routing, webhook
        self.keep_raw_days = keep_raw_days
        self.calls = Calls(on_forget=self._forget)
        self.amazon_connect = AmazonConnectAdapter()
        self.suggestions: dict[str, Suggestions] = {}
        self.subscribers: dict[str, set[web.WebSocketResponse]] = {}
        self._with_lines: set[web.WebSocketResponse] = set()  # subscribers that get ``transcript`` frames
        self._send_locks: dict[int, asyncio.Lock] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_partial: dict[str, float] = {}
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}
        self._clock = clock

    # -- calls ---------------------------------------------------------------------------------------------
    def start(self, frame: Start, socket: web.WebSocketResponse | None = None) -> Call:
        call = self.calls.open(frame.call_id, frame.started_at, frame.line)
        self.suggestions.setdefault(call.call_id, Suggestions())
        if socket is not None and frame.suggestions:
            self.subscribe(call.call_id, socket)
        return call

    async def begin(self, frame: Start, socket: web.WebSocketResponse | None = None) -> Call:
        """``start``, then the call written to the journal."""
        call = self.start(frame, socket)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.opened, call)
        return call

    async def receive(self, seg: Segment, socket: web.WebSocketResponse | None = None,
                      send_ack: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> dict[str, Any]:
        """``segment``, then the segment written to the journal before the ack is returned (a resent
        duplicate is written again: its first write may be the one that failed).  The segment's suggestion
        search starts only after that (and after ``send_ack`` has sent the ack, on the stream), so a
        segment's ack always comes before its suggestions on the socket (docs/hotline.md)."""
        searches: list[tuple[str, Coroutine[Any, Any, None]]] = []
        ack = self.segment(seg, socket, searches)
        try:
            if self.journal is not None and ack["status"] != "stale":
                await asyncio.to_thread(self.journal.applied, self.calls.get(seg.call_id), seg.seq)
            if send_ack is not None:
                await send_ack(ack)
        except BaseException:
            for _, work in searches:
                work.close()  # never started: the caller's error answers the frame
            raise
        for call_id, work in searches:
            self._spawn(call_id, work)
        return ack

    def restore(self, calls: list[Call]) -> None:
        """Take back the calls in progress the journal kept across a restart."""
        for call in calls:
            self.calls.restore(call)
            self.suggestions.setdefault(call.call_id, Suggestions())

    def subscribe(self, call_id: str, socket: web.WebSocketResponse, transcript: bool = False) -> None:
        """``socket`` gets the call's frames; with ``transcript`` also a ``transcript`` frame (the masked
        line, :func:`masked_line`) for each segment applied (the staff console's socket)."""
        self.subscribers.setdefault(call_id, set()).add(socket)
        if transcript:
            self._with_lines.add(socket)

    def unsubscribe(self, socket: web.WebSocketResponse) -> None:
        for sockets in self.subscribers.values():
            sockets.discard(socket)
        self._with_lines.discard(socket)
        self._send_locks.pop(id(socket), None)

    def send_lock(self, socket: web.WebSocketResponse) -> asyncio.Lock:
        """The lock :meth:`push` holds while it writes to ``socket`` (hold it to send a snapshot first)."""
        return self._send_locks.setdefault(id(socket), asyncio.Lock())

    def segment(self, seg: Segment, socket: web.WebSocketResponse | None = None,
                searches: list[tuple[str, Coroutine[Any, Any, None]]] | None = None) -> dict[str, Any]:
        """Apply one segment (opening its call if this is the first word of it); the ack.  The suggestion
        search it calls for starts now, or is appended to ``searches`` for the caller to start."""
        call = self.calls.find(seg.call_id)
        if call is None:
            call = self.start(Start(seg.call_id), socket)
        if call.ended:
            raise InvalidInput(f"call {seg.call_id!r} has ended")
        applied = call.apply(seg)
        if applied in ("new", "replaced") and seg.text and not self._with_lines.isdisjoint(
                self.subscribers.get(call.call_id, ())):
            self._spawn(call.call_id, self.push(call.call_id, {"type": "transcript", "call_id": call.call_id,
                                                               "line": masked_line(seg)}))
        if seg.speaker == "caller" and applied in ("new", "replaced") and seg.text:
            work = None
            if seg.is_final:
                work = self._suggest(call, seg, None)
            else:
                now = self._clock()
                if now - self._last_partial.get(call.call_id, -PARTIAL_INTERVAL) >= PARTIAL_INTERVAL:
                    self._last_partial[call.call_id] = now
                    work = self._suggest(call, seg, seg)
            if work is not None and searches is not None:
                searches.append((call.call_id, work))
            elif work is not None:
                self._spawn(call.call_id, work)
        return {"type": "ack", "call_id": seg.call_id, "seq": seg.seq, "status": applied}

    def _spawn(self, call_id: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        tasks = self._tasks.setdefault(call_id, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def idle(self, call_id: str | None = None) -> None:
        """Wait until the suggestion searches started so far (for one call, or all) are done."""
        while True:
            pending = [t for cid, tasks in self._tasks.items() if call_id in (None, cid) for t in tasks]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def _forget(self, call_ids: list[str]) -> None:
        """Drop what the service kept for calls the call table forgot (ended long ago)."""
        for cid in call_ids:
            for table in (self.suggestions, self.subscribers, self._locks, self._last_partial, self._tasks):
                table.pop(cid, None)

    # -- suggestions ---------------------------------------------------------------------------------------
    def _search(self, latest: str, window: str) -> list[tuple[float, dict[str, Suggestion]]]:
        out: list[tuple[float, dict[str, Suggestion]]] = []
        for weight, query in ((WEIGHT_LATEST, latest), (WEIGHT_WINDOW, window)):
            if not query:
                continue
            hits = self.retriever.search(query, top_k=SEARCH_K)
            out.append((weight, {h.doc_id: suggestion_of(h) for h in hits if h.passages}))
        return out

    async def _suggest(self, call: Call, trigger: Segment, partial: Segment | None) -> None:
        arrived = time.perf_counter()
        lock = self._locks.setdefault(call.call_id, asyncio.Lock())
        async with lock:
            if partial is not None and call.segments.get(partial.seq) != partial:
                return  # its final (or a newer partial) arrived while this waited: that one searches
            words = call.caller_words(WINDOW, partial)
            if not words:
                return
            latest = trigger.text
            # a partial searches its own words only; a final also the caller's recent window
            window = "，".join(words) if len(words) > 1 and partial is None else ""
            try:
                found = await asyncio.to_thread(self._search, latest, window)
            except Exception:
                log.exception("hotline: suggestion search failed for call %s", call.call_id)
                return
            state = self.suggestions.setdefault(call.call_id, Suggestions())
            changed = state.update(blend(found))
            app_no = normalise_app_no(latest)
            if app_no and app_no not in state.app_nos:
                state.app_nos.append(app_no)
                offer = {"type": "status_offer", "call_id": call.call_id, "app_no": app_no}
                await self.push(call.call_id, offer)
            if changed or partial is None:
                await self.push(call.call_id, {
                    "type": "suggestions", "call_id": call.call_id, "seq": trigger.seq,
                    "is_final": trigger.is_final, "changed": changed, "suggestions": state.to_json(),
                    "elapsed_ms": round((time.perf_counter() - arrived) * 1000, 1)})

    def current(self, call_id: str) -> list[dict[str, Any]]:
        self.calls.get(call_id)
        return self.suggestions.get(call_id, Suggestions()).to_json()

    async def push(self, call_id: str, frame: dict[str, Any]) -> None:
        text = dumps(frame)
        lines_only = frame.get("type") == "transcript"
        for socket in list(self.subscribers.get(call_id, ())):
            if socket.closed:
                self.unsubscribe(socket)
                continue
            if lines_only and socket not in self._with_lines:
                continue
            try:
                async with self.send_lock(socket):
                    await socket.send_str(text)
            except (ConnectionError, RuntimeError):
                self.unsubscribe(socket)

    def pin(self, call_id: str, doc_id: str) -> list[dict[str, Any]]:
        self.calls.get(call_id)
        state = self.suggestions.setdefault(call_id, Suggestions())
        state.pin(doc_id)
        return state.to_json()

    # -- the end and the order -----------------------------------------------------------------------------
    async def end(self, call_id: str) -> WorkOrder:
        call = self.calls.get(call_id)
        orders, classifier, routing = self.orders, self.classifier, self.routing
        if orders is None or classifier is None or routing is None:
            raise NotFound("this hotline drafts no work orders (no classifier or order store)")
        self.calls.end(call_id)
        await self.idle(call_id)
        state = self.suggestions.get(call_id, Suggestions())
        documents = [{"doc_id": d, "title": state.known[d].title} for d in state.pinned]
        raw = ([{"speaker": s.speaker, "text": s.text, "start_ms": s.start_ms} for s in call.finals()]
               if self.keep_raw_days > 0 else None)

        def make() -> WorkOrder:
            return orders.save_draft(draft(call, classifier, routing, documents), raw)

        order = await asyncio.to_thread(make)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.forget, call_id)  # the draft holds the call now
        await self.push(call_id, {"type": "order", "call_id": call_id, "order": order.to_json()})
        return order

    async def submit(self, call_id: str, edits: dict[str, Any], actor: str, ip: str) -> WorkOrder:
        orders, routing = self.orders, self.routing
        if orders is None or routing is None:
            raise NotFound("this hotline keeps no work orders")

        def submit() -> tuple[WorkOrder, WorkOrder]:
            categories = list((routing.table().get("categories") or {}) or CATEGORIES)  # the city's taxonomy
            return orders.submit(call_id, edits, actor, categories)

        before, after = await asyncio.to_thread(submit)
        await self._audit(actor, "hotline.order.submit", after.order_id, before.to_json(), after.to_json(),
                          ip)
        if self.webhook is not None:
            self.webhook.wake()
        return after

    async def edit(self, call_id: str, edits: dict[str, Any], actor: str, ip: str) -> WorkOrder:
        """Save the agent's edits on the draft without submitting it (audit-logged)."""
        orders, routing = self.orders, self.routing
        if orders is None or routing is None:
            raise NotFound("this hotline keeps no work orders")

        def save() -> tuple[WorkOrder, WorkOrder]:
            categories = list((routing.table().get("categories") or {}) or CATEGORIES)
            return orders.edit_draft(call_id, edits, categories)

        before, after = await asyncio.to_thread(save)
        await self._audit(actor, "hotline.order.edit", after.order_id, before.to_json(), after.to_json(), ip)
        return after

    async def status_card(self, call_id: str, app_no: str, actor: str, ip: str) -> dict[str, Any]:
        """The status card of an application this call's caller read out; every view audit-logged."""
        self.calls.get(call_id)
        wanted = normalise_app_no(app_no)
        state = self.suggestions.get(call_id)
        if wanted is None or state is None or wanted not in state.app_nos:
            raise NotFound(f"the caller of {call_id!r} did not read out the application number {app_no!r}")
        if self.archive is None:
            raise NotFound("the archive is not open")
        app = await asyncio.to_thread(self.archive.get_application, wanted)
        card = {"type": "status", "app_no": app.app_no, "item": app.item, "applicant": app.applicant_masked,
                "state": app.state, "current_step": app.current_step, "expected_by": app.expected_by,
                "history": [{"step": e.step, "at": e.at, "note": e.note} for e in app.history]}
        await self._audit(actor, "hotline.status.view", app.app_no, None, {"call_id": call_id}, ip)
        return card

    async def _audit(self, actor: str, action: str, target: str, before: Any, after: Any, ip: str) -> None:
        if self.audit_log is not None:
            await asyncio.to_thread(self.audit_log.record, actor, "hotline", action, target, before, after,
                                    ip)


async def replay(service: HotlineService, call_id: str, caller_texts: list[str]) -> list[dict[str, Any]]:
    """Feed a caller's utterances to a call as final segments, one after another as a call would (each
    search done before the next segment arrives); the suggestions at the end (evaluation, the bench)."""
    for seq, text in enumerate(caller_texts):
        service.segment(Segment(call_id, seq, "caller", text, True, seq * 3000, seq * 3000 + 2500))
        await service.idle()
    return service.current(call_id)


def load_suggestion_set(path: Path) -> list[dict[str, Any]]:
    """Lines ``{"segments": [caller utterances…], "relevant": [doc ids that answer]}``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, row in enumerate(rows, start=1):
        if not (isinstance(row.get("segments"), list) and row["segments"] and row.get("relevant")):
            raise InvalidInput(f"{path}:{number}: needs segments and relevant")
    return rows


async def suggestion_hits(service: HotlineService, rows: list[dict[str, Any]]) -> list[bool]:
    """For each row: is one of its relevant documents among the call's suggestions at the end?"""
    out = []
    for i, row in enumerate(rows):
        shown = await replay(service, f"eval-{i}", row["segments"])
        out.append(any(s["doc_id"] in row["relevant"] for s in shown))
    return out


# -- HTTP edge -----------------------------------------------------------------------------------------------
def _presented_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def hotline_only(handler: Handler) -> Handler:
    """A route for the call centre: a live API token of scope ``hotline``, else 401."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        accounts = request.app.get(ACCOUNTS)
        presented = _presented_token(request)
        token = (await asyncio.to_thread(accounts.check_token, presented, "hotline")
                 if presented and accounts is not None else None)
        if token is None:
            response = json_error(401, "hotline token missing or wrong: send 'Authorization: Bearer <token>' "
                                       "with a token of scope hotline", "Unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer realm="civic-hotline"'
            return response
        agent = request.headers.get("X-Agent", "").strip()[:64]
        request[ACTOR] = f"token:{token.name}" + (f"/agent:{agent}" if agent else "")
        return await handler(request)

    return guarded


def _service(request: web.Request) -> HotlineService:
    service = request.app.get(HOTLINE)
    if service is None:
        raise web.HTTPServiceUnavailable(reason="the hotline is not open yet")
    return service


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc


def _call_id(request: web.Request) -> str:
    return check_call_id(request.match_info["call_id"])


def _ip(request: web.Request) -> str:
    return request.remote or ""


@hotline_only
async def post_segments(request: web.Request) -> web.Response:
    service, call_id = _service(request), _call_id(request)
    body = await _json_body(request)
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_SEGMENTS_PER_POST:
        raise InvalidInput(f"at most {MAX_SEGMENTS_PER_POST} segments per request")
    segments = [parse_segment(item, call_id) for item in items]  # all valid, or none applied
    return web.json_response([await service.receive(s) for s in segments], dumps=dumps)


@hotline_only
async def post_end(request: web.Request) -> web.Response:
    order = await _service(request).end(_call_id(request))
    return web.json_response(order.to_json(), dumps=dumps)


@hotline_only
async def get_suggestions(request: web.Request) -> web.Response:
    return web.json_response(_service(request).current(_call_id(request)), dumps=dumps)


@hotline_only
async def post_pin(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("doc_id"), str):
        raise InvalidInput('send {"doc_id": "..."}')
    return web.json_response(_service(request).pin(_call_id(request), body["doc_id"]), dumps=dumps)


@hotline_only
async def get_status(request: web.Request) -> web.Response:
    card = await _service(request).status_card(_call_id(request), request.match_info["app_no"],
                                               request[ACTOR], _ip(request))
    return web.json_response(card, dumps=dumps)


@hotline_only
async def get_order(request: web.Request) -> web.Response:
    service, call_id = _service(request), _call_id(request)
    if service.orders is None:
        raise NotFound("this hotline keeps no work orders")
    order = await asyncio.to_thread(service.orders.get, call_id)
    return web.json_response(order.to_json(), dumps=dumps)


@hotline_only
async def post_order(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("send the edited fields as a JSON object ({} submits the draft as it is)")
    order = await _service(request).submit(_call_id(request), body, request[ACTOR], _ip(request))
    return web.json_response(order.to_json(), dumps=dumps)


@hotline_only
async def put_order(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("send the edited fields as a JSON object")
    order = await _service(request).edit(_call_id(request), body, request[ACTOR], _ip(request))
    return web.json_response(order.to_json(), dumps=dumps)


async def _handle_frame(service: HotlineService, ws: web.WebSocketResponse, frame: Frame) -> None:
    if isinstance(frame, Start):
        await service.begin(frame, ws)
        await ws.send_str(dumps({"type": "ack", "call_id": frame.call_id, "seq": None, "status": "started",
                                 "protocol": PROTOCOL_VERSION}))
    elif isinstance(frame, Segment):
        async def send_ack(ack: dict[str, Any]) -> None:
            await ws.send_str(dumps(ack))

        await service.receive(frame, ws, send_ack)
    elif isinstance(frame, End):
        service.calls.get(frame.call_id)  # NotFound before the ack
        subscribed = ws in service.subscribers.get(frame.call_id, set())
        await ws.send_str(dumps({"type": "ack", "call_id": frame.call_id, "seq": None, "status": "ended"}))
        order = await service.end(frame.call_id)  # pushes the order frame to the call's subscribers
        if not subscribed:
            await ws.send_str(dumps({"type": "order", "call_id": frame.call_id, "order": order.to_json()}))


def _error_frame(exc: CivicError | ValueError, raw: Any) -> str:
    frame: dict[str, Any] = {"type": "error", "status": 404 if isinstance(exc, NotFound) else 400,
                             "error": str(exc)}
    if isinstance(raw, dict):
        for key in ("call_id", "seq"):
            if key in raw:
                frame[key] = raw[key]
    return dumps(frame)


@hotline_only
async def stream(request: web.Request) -> web.WebSocketResponse:
    """The speech-to-text side: frames in, an ack (or an error frame) for each, suggestions out."""
    service = _service(request)
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                if message.type == WSMsgType.BINARY:
                    await ws.send_str(dumps({"type": "error", "status": 400,
                                             "error": "frames are JSON text, not binary"}))
                continue
            raw: Any = None
            try:
                raw = json.loads(message.data)
                await _handle_frame(service, ws, parse_frame(raw))
            except json.JSONDecodeError as exc:
                await ws.send_str(dumps({"type": "error", "status": 400, "error": f"not JSON: {exc}"}))
            except CivicError as exc:
                await ws.send_str(_error_frame(exc, raw))
    finally:
        service.unsubscribe(ws)
    return ws


@hotline_only
async def live(request: web.Request) -> web.WebSocketResponse:
    """The agent's side: the call's suggestion, status-offer and order frames (nothing is read from it)."""
    service, call_id = _service(request), _call_id(request)
    service.calls.get(call_id)
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    service.subscribe(call_id, ws)
    await ws.send_str(dumps({"type": "suggestions", "call_id": call_id, "seq": None, "changed": False,
                             "suggestions": service.current(call_id)}))
    try:
        async for _ in ws:
            pass
    finally:
        service.unsubscribe(ws)
    return ws


@hotline_only
async def amazon_connect(request: web.Request) -> web.Response:
    """One Contact Lens real-time event, mapped by the adapter and handled like stream frames."""
    service = _service(request)
    frames = [parse_frame(f) for f in service.amazon_connect.frames(await _json_body(request))]
    out: list[dict[str, Any]] = []
    for frame in frames:
        if isinstance(frame, Start):
            await service.begin(frame)
            out.append({"type": "ack", "call_id": frame.call_id, "seq": None, "status": "started"})
        elif isinstance(frame, Segment):
            out.append(await service.receive(frame))
        else:
            order = await service.end(frame.call_id)
            out.append({"type": "order", "call_id": frame.call_id, "order": order.to_json()})
    return web.json_response(out, dumps=dumps)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/hotline/stream", stream),
    ("POST", "/api/hotline/calls/{call_id}/segments", post_segments),
    ("POST", "/api/hotline/calls/{call_id}/end", post_end),
    ("GET", "/api/hotline/calls/{call_id}/suggestions", get_suggestions),
    ("GET", "/api/hotline/calls/{call_id}/live", live),
    ("POST", "/api/hotline/calls/{call_id}/pin", post_pin),
    ("GET", "/api/hotline/calls/{call_id}/status/{app_no}", get_status),
    ("GET", "/api/hotline/calls/{call_id}/order", get_order),
    ("PUT", "/api/hotline/calls/{call_id}/order", put_order),
    ("POST", "/api/hotline/calls/{call_id}/order", post_order),
    ("POST", "/api/hotline/adapters/amazon-connect", amazon_connect),
]


def setup_hotline_routes(app: web.Application) -> None:
    for verb, path, handler in ROUTES:
        app.router.add_route(verb, path, handler)


def labelled_set(settings: Settings) -> Path:
    return settings.project_dir / "data" / "hotline" / "labelled.jsonl"


async def _purge_raw(orders: Orders, days: int) -> None:
    while True:
        try:
            await asyncio.to_thread(orders.purge_raw, days)
        except Exception:
            log.exception("hotline: could not purge raw transcripts; retrying")
        await asyncio.sleep(3600)


async def open_hotline(app: web.Application, stack: AsyncExitStack) -> None:
    """Build the hotline at start-up (app/factory.py): the orders and outbox, the routing table, the
    classifier (trained here, on the thread pool), the webhook when a URL is set, the raw-transcript purge."""
    settings = app[SETTINGS]
    orders = await asyncio.to_thread(Orders, settings.paths.app_db)
    stack.callback(orders.close)
    archive = app.get(ARCHIVE)

    def issuers() -> list[str]:
        return [d.issuer for d in archive.iter_documents()] if archive is not None else []

    routing = Routing(settings.paths.hotline_routing, issuers)
    await asyncio.to_thread(routing.ensure)
    try:
        def trained() -> Loaded:  # the retriever's encoder (if it reads Chinese) + the agents' edits
            encoder = getattr(app.get(RETRIEVER), "embedder", None)
            return load_or_train(settings.paths, labelled_set(settings), encoder, corrections(orders))

        loaded = await asyncio.to_thread(trained)
        classifier: Classifier = loaded.classifier
        app[STATES]["hotline"] = ComponentState(True, info={
            "classifier": loaded.classifier.features, "examples": loaded.classifier.n_examples,
            "corrections": loaded.n_corrections})
    except (OSError, CivicError) as exc:
        log.exception("hotline: could not train the work-order classifier")
        app[STATES]["hotline"] = ComponentState(False, f"could not train the work-order classifier: {exc}")
        return
    webhook = None
    if settings.hotline_webhook_url:
        webhook = Webhook(orders, settings.hotline_webhook_url, settings.hotline_webhook_secret)
        await webhook.start()
        stack.push_async_callback(webhook.stop)
    purge = asyncio.get_running_loop().create_task(_purge_raw(orders, settings.hotline_raw_retention_days))
    stack.push_async_callback(_cancel, purge)
    journal = await asyncio.to_thread(CallJournal, settings.paths.app_db)
    stack.callback(journal.close)
    service = HotlineService(app.get(RETRIEVER), archive, app.get(AUDIT), orders, classifier, routing,
                             settings.hotline_raw_retention_days, webhook, journal=journal)
    service.restore(await asyncio.to_thread(journal.load))  # the calls in progress when the app stopped
    app[HOTLINE] = service


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
