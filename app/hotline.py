"""The hotline's service: the calls in progress, their live suggestions and the drafted work order.

:class:`HotlineService` ties the call centre's protocol (``connectors/hotline.py``: calls, idempotent and
reordered segments, the suggestion list), the app's retriever, the call journal (``connectors/
hotline_journal.py``) and the work orders (``app/workorder.py``) together; the sockets that follow a call
subscribe to it.  Its HTTP and WebSocket routes are in ``app/hotline_routes.py``, its start-up in
``app/hotline_startup.py``; the protocol is in docs/hotline.md.  Searches, SQLite and the classifier run on
the thread pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from app.audit import AuditLog
from app.middlewares import dumps
from app.workorder import CATEGORIES, Classifier, Orders, Routing, Webhook, WorkOrder, draft
from bot.common import cite
from bot.search_answer import MAX_PASSAGE_CHARS
from bot.status import normalise_app_no
from connectors.hotline import Call, Calls, Segment, Start, Suggestion, Suggestions, blend
from connectors.hotline_adapters import AmazonConnectAdapter
from connectors.hotline_journal import CallJournal
from core.errors import InvalidInput, NotFound
from core.pii import mask

log = logging.getLogger("civic.hotline")

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
