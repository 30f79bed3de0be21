"""The staff console at /staff: the hand-over queue (a person takes a citizen's chat) and the live calls.

Staff sign in at /admin/sign-in like every console user (role ``staff``; admins too); every route here is
guarded by :func:`app.admin.web.require`, state-changing ones carry the session's CSRF token (the console
middleware checks it), and every take, reply and release is an audit row.

The hand-over queue
  A session the bot handed over (``Conversations.handover``: 「转人工」, or two failed turns) has an open
  hand-over ticket and is paused.  Open tickets no staff member has taken wait in the queue, oldest first;
  a citizen's place is 1 + the waiting tickets opened before theirs.  A staff member *takes* a ticket (one
  person per ticket; others see who has it), *replies* (the text reaches the citizen's open web chat at
  once as from 「人工客服 N号」, N being the staff member's user number; Telegram and WeChat get it through
  ``Channels.send``), and *releases* it: the ticket is closed and the bot answers that session again.
  The :class:`Desk` keeps who took what and the replies (masked, for the web chat's history) in app.db, and
  a loop tells each waiting web-chat citizen their place whenever it changes (``WebConnector.notify``).

The live calls
  The calls the hotline (app/hotline.py) has in progress, each with its transcript masked as the work order
  masks it (``core.pii.mask(caller=True)``), the suggestions, the status-card offers and, after the call, the
  drafted work order.  The agent's browser authenticates with its staff session; these routes call the same
  HotlineService methods as the token routes (pin, status card, order edit and submit), with the actor
  ``staff:<user>``.

  The call's page follows it over a WebSocket (``…/live``): the staff session's cookie authenticates the
  handshake like any console GET.  WebSockets are not bound by CORS and the cookie rides on a handshake
  from another origin of the same site (a sibling subdomain) too, so the Origin header must name this host
  (:func:`same_origin`; 403 otherwise).  The socket subscribes to the same HotlineService fan-out as the
  hotline's ``live`` route (with ``transcript=True``: one ``transcript`` frame per applied segment, masked by
  ``app.hotline.masked_line`` — the same function the GET uses).  While it is open the session is
  re-checked every ``SESSION_CHECK_SECONDS`` (which keeps it from idling out, as the page's polling did); a
  signed-out or expired session closes it with code 4401.

Routes (pages, then the JSON the pages' script reads):
  GET  /staff                                      the queue and the calls in progress
  GET  /staff/handovers/{ticket}                   one hand-over: the transcript, take / reply / release
  POST /staff/handovers/{ticket}/take|reply|release  the same as forms (303 back), for a page without script
  GET  /staff/calls/{call_id}                      one call: transcript, suggestions, status card, order form
  GET  /api/admin/staff/queue                      {"handovers": [...], "calls": [...]}
  GET  /api/admin/staff/handovers/{ticket}         the ticket with its transcript and who has it
  POST /api/admin/staff/handovers/{ticket}/take|reply|release
  GET  /api/admin/staff/calls/{call_id}            transcript (masked), suggestions, offers, order
  GET  /api/admin/staff/calls/{call_id}/live       WebSocket: {"type": "call", "call": <the GET's JSON>}
                                                   first, then the call's pushed frames (transcript,
                                                   suggestions, status_offer, order); same Origin only
  POST /api/admin/staff/calls/{call_id}/pin        {"doc_id"}
  GET  /api/admin/staff/calls/{call_id}/status/{app_no}   the status card (audit row hotline.status.view)
  PUT  /api/admin/staff/calls/{call_id}/order      the agent's edits saved on the draft
  POST /api/admin/staff/calls/{call_id}/order      the agent's edits, submitted (into the webhook's outbox)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from app.accounts import User
from app.admin.web import audit, current_user, render, require, session_id
from app.conversations import Conversations, Ticket
from app.hotline import masked_line
from app.keys import ACCOUNTS, CHANNELS, CONVERSATIONS, HOTLINE, SETTINGS, WEB_CONNECTOR
from app.middlewares import dumps, json_error
from app.staff import release_handover
from app.workorder import CATEGORIES, KINDS
from connectors.hotline import check_call_id
from core.appdb import AppDb
from core.errors import AccessDenied, InvalidInput, NotFound
from core.inputs import is_payload
from core.pii import mask

log = logging.getLogger("civic.staff")

STATIC_DIR = Path(__file__).resolve().parent / "static" / "staff"
MAX_REPLY_CHARS = 1000
QUEUE_LIMIT = 500
TICK_SECONDS = 1.0  # how often the desk re-reads the queue to tell waiting citizens their place
SESSION_CHECK_SECONDS = 60.0  # how often an open call socket re-checks (and so keeps alive) its session
SESSION_GONE = 4401  # the call socket's close code when its session ended

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_takes (
    ticket TEXT PRIMARY KEY, session TEXT NOT NULL, user_id INTEGER NOT NULL, user_name TEXT NOT NULL,
    label TEXT NOT NULL, taken_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS staff_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ticket TEXT NOT NULL, session TEXT NOT NULL, label TEXT NOT NULL,
    text TEXT NOT NULL, after_key TEXT NOT NULL DEFAULT '', at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS staff_replies_session ON staff_replies(session, id);
"""


BUTTONS = {"request_human": "转人工 asked for a person"}


def shown(text: str) -> str:
    """A line as staff read it: a tapped button's payload (「/request_human」) as what it meant."""
    if not is_payload(text):
        return text
    intent = text.strip()[1:].split("{", 1)[0]
    return f"〔按钮 button: {BUTTONS.get(intent, intent)}〕"


def agent_label(user: User) -> str:
    """How the citizen sees a staff member: a number, not a name (「人工客服 12号」)."""
    return f"人工客服 {user.id}号"


@dataclass(frozen=True)
class Take:
    ticket: str
    session: str
    user_id: int
    user_name: str
    label: str
    taken_at: float


class Desk:
    """Who took which hand-over, the staff replies, and each waiting citizen's place in the queue.

    The SQLite methods block (callers on the event loop use ``asyncio.to_thread``); :meth:`run` is the loop
    that pushes queue places to the web chat.
    """

    def __init__(self, path: Path, conversations: Conversations, clock: Callable[[], float] = time.time
                 ) -> None:
        self.conversations = conversations
        self._clock = clock
        self._store = AppDb(path, _SCHEMA)
        self._tx = self._store.tx
        self.web: Any = None  # the WebConnector, when the app has one (queue places, staff replies)
        self.channels: Any = None  # every open connector (Channels): the messaging apps get texts
        self._told: dict[str, dict[str, Any]] = {}  # session -> the queue state it was last told
        self._wake = asyncio.Event()

    def close(self) -> None:
        self._store.close()

    # -- the store ---------------------------------------------------------------------------------------
    def takes(self) -> dict[str, Take]:
        rows = self._store.rows("SELECT * FROM staff_takes")
        return {r["ticket"]: Take(**dict(r)) for r in rows}

    def take_of(self, ticket: str) -> Take | None:
        rows = self._store.rows("SELECT * FROM staff_takes WHERE ticket = ?", [ticket])
        return Take(**dict(rows[0])) if rows else None

    def open_handover(self, ticket_id: str) -> Ticket:
        """The ticket, if it is an open hand-over still holding its session; NotFound otherwise."""
        ticket = self.conversations.get_ticket(ticket_id)
        if ticket.kind != "handover":
            raise NotFound(f"no hand-over ticket {ticket_id!r}")
        if ticket.status != "open" or self.conversations.paused_ticket(ticket.session) != ticket.id:
            raise InvalidInput(f"ticket {ticket_id} is closed: the bot has this conversation again")
        return ticket

    def take(self, ticket_id: str, user: User) -> Take:
        """``user`` takes the ticket; taking one's own again changes nothing; another's → AccessDenied."""
        ticket = self.open_handover(ticket_id)
        with self._tx() as db:
            row = db.execute("SELECT * FROM staff_takes WHERE ticket = ?", [ticket.id]).fetchone()
            if row is not None:
                taken = Take(**dict(row))
                if taken.user_id != user.id:
                    raise AccessDenied(f"{taken.user_name} ({taken.label}) has already taken {ticket.id}")
                return taken
            taken = Take(ticket.id, ticket.session, user.id, user.name, agent_label(user), self._clock())
            db.execute("INSERT INTO staff_takes VALUES (?, ?, ?, ?, ?, ?)",
                       [taken.ticket, taken.session, taken.user_id, taken.user_name, taken.label,
                        taken.taken_at])
        return taken

    def holder(self, ticket_id: str, user: User) -> tuple[Ticket, Take]:
        """The open ticket and its take, when ``user`` holds it (admins may act on any taken ticket)."""
        ticket = self.open_handover(ticket_id)
        taken = self.take_of(ticket.id)
        if taken is None:
            raise AccessDenied(f"take {ticket.id} first")
        if taken.user_id != user.id and user.role != "admin":
            raise AccessDenied(f"{taken.user_name} ({taken.label}) has {ticket.id}")
        return ticket, taken

    def reply(self, ticket: Ticket, taken: Take, text: str, after_key: str) -> dict[str, Any]:
        """Keep a staff reply (masked, like every stored text) on the ticket and for the web chat's history;
        the line to push."""
        masked = mask(text)
        self.conversations.append_transcript(ticket.id, "staff", masked)
        now = self._clock()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO staff_replies (ticket, session, label, text, after_key, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [ticket.id, ticket.session, taken.label, masked, after_key, now])
        return {"id": cur.lastrowid, "ticket": ticket.id, "from": taken.label, "text": masked,
                "after_key": after_key, "at": now}

    def lines(self, session: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._store.rows("SELECT * FROM staff_replies WHERE session = ? ORDER BY id DESC LIMIT ?",
                                [session, limit])
        return [{"id": r["id"], "ticket": r["ticket"], "from": r["label"], "text": r["text"],
                 "after_key": r["after_key"], "at": r["at"]} for r in reversed(rows)]

    def release(self, ticket: Ticket) -> None:
        release_handover(self.conversations, ticket_id=ticket.id)
        with self._tx() as db:
            db.execute("DELETE FROM staff_takes WHERE ticket = ?", [ticket.id])

    def queue(self) -> list[dict[str, Any]]:
        """The open hand-overs still holding their sessions, oldest first: waiting ones with their place,
        taken ones with who has them."""
        tickets = self.conversations.list_tickets(kind="handover", status="open", limit=QUEUE_LIMIT)
        takes = self.takes()
        out, place = [], 0
        for t in sorted(tickets, key=lambda t: t.created_at):
            if self.conversations.paused_ticket(t.session) != t.id:
                continue  # released by the token API meanwhile
            taken = takes.get(t.id)
            if taken is None:
                place += 1
            last = shown(next((line["text"] for line in reversed(t.transcript)
                               if line.get("role") == "citizen"), t.text))
            out.append({"ticket": t.id, "session": t.session, "channel": t.session.partition(":")[0],
                        "created_at": t.created_at, "text": shown(t.text), "last": last,
                        "lines": len(t.transcript), "state": "taken" if taken else "waiting",
                        "position": None if taken else place,
                        "agent": taken.user_name if taken else "",
                        "agent_label": taken.label if taken else ""})
        return out

    # -- what the web chat asks (connectors/web.py StaffSide) ---------------------------------------------
    def _state(self, session: str) -> dict[str, Any] | None:
        for item in self.queue():
            if item["session"] == session:
                return _citizen_state(item)
        return None

    async def queue_state(self, session: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._state, session)

    async def staff_lines(self, session: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.lines, session)

    # -- the loop --------------------------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    async def tell_citizens(self) -> None:
        """Tell each waiting citizen their queue state when it changed since they were last told: the web
        chat every change (a frame), the messaging apps when they join the queue, are taken and are given
        back (a text each, not one per place)."""
        items = await asyncio.to_thread(self.queue)
        now = {i["session"]: _citizen_state(i) for i in items}
        for session in set(self._told) - set(now):
            now[session] = {"state": "released"}
        for session, state in now.items():
            told = self._told.get(session)
            if told == state:
                continue
            channel, _, user = session.partition(":")
            if channel == "web":
                if self.web is not None:
                    await self.web.notify(user, {"type": "queue", **state})
            elif told is None or told["state"] != state["state"]:
                await self._text(session, state)
            if state["state"] == "released":
                self._told.pop(session, None)
            else:
                self._told[session] = state

    async def _text(self, session: str, state: dict[str, Any]) -> None:
        texts = {"waiting": "正在为您转接人工客服，您排在第 {position} 位，请稍候。",
                 "taken": "{agent} 正在为您服务。", "released": "人工服务已结束，智能助手继续为您服务。"}
        if self.channels is None:
            return
        try:
            await self.channels.send(session, texts[state["state"]].format(**state))
        except Exception as exc:  # a channel that cannot push now: the next change tries again
            log.warning("staff desk: could not tell %s its queue state: %s", session, exc)

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.tell_citizens()
            except Exception:
                log.exception("staff desk: could not tell the waiting citizens their places")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()


def _citizen_state(item: dict[str, Any]) -> dict[str, Any]:
    if item["state"] == "taken":
        return {"state": "taken", "ticket": item["ticket"], "agent": item["agent_label"]}
    return {"state": "waiting", "ticket": item["ticket"], "position": item["position"]}


DESK: web.AppKey[Desk] = web.AppKey("staff_desk", Desk)


def _desk(request: web.Request) -> Desk:
    desk = request.app.get(DESK)
    if desk is None:
        raise web.HTTPServiceUnavailable(reason="the staff desk is not open yet")
    return desk


# -- hand-overs: the actions ------------------------------------------------------------------------------
async def _reply_text(request: web.Request) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc
    else:
        body = dict(await request.post())
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise InvalidInput('send {"text": "..."}')
    text = body["text"].strip()
    if not text:
        raise InvalidInput("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidInput(f"a reply is at most {MAX_REPLY_CHARS} characters")
    return text


async def _last_key(request: web.Request, session: str) -> str:
    """The key of the session's latest chat turn: a staff reply is shown after it when the chat reloads."""
    connector = request.app.get(WEB_CONNECTOR)
    history = getattr(connector, "history", None)
    if history is None:
        return ""
    turns = await asyncio.to_thread(history.recent, session, 1)
    return turns[-1].key if turns else ""


async def do_take(request: web.Request) -> dict[str, Any]:
    desk, user = _desk(request), current_user(request)
    taken = await asyncio.to_thread(desk.take, request.match_info["ticket"], user)
    await audit(request, "staff.handover.take", taken.ticket, None, {"agent": taken.label})
    desk.wake()
    return asdict(taken)


async def do_reply(request: web.Request) -> dict[str, Any]:
    desk, user = _desk(request), current_user(request)
    text = await _reply_text(request)
    ticket, taken = await asyncio.to_thread(desk.holder, request.match_info["ticket"], user)
    line = await asyncio.to_thread(desk.reply, ticket, taken, text, await _last_key(request, ticket.session))
    channel, _, who = ticket.session.partition(":")
    delivered = False
    if channel == "web" and desk.web is not None:
        delivered = await desk.web.notify(who, {"type": "staff", **line}) > 0
    else:
        channels = request.app.get(CHANNELS)
        try:
            if channels is None:
                raise NotFound("no channels are open")
            await channels.send(ticket.session, f"【{taken.label}】{text}")
            delivered = True
        except Exception as exc:  # the reply stays on the ticket; staff are told it did not leave
            log.warning("staff reply to %s not delivered: %s", ticket.session, exc)
    await audit(request, "staff.handover.reply", ticket.id, None, {"text": line["text"]})
    return {**line, "delivered": delivered}


async def do_release(request: web.Request) -> dict[str, Any]:
    desk, user = _desk(request), current_user(request)
    ticket, taken = await asyncio.to_thread(desk.holder, request.match_info["ticket"], user)
    await asyncio.to_thread(desk.release, ticket)
    await audit(request, "staff.handover.release", ticket.id, {"agent": taken.label}, {"released": True})
    desk.wake()
    return {"ticket": ticket.id, "session": ticket.session, "released": True}


ACTIONS = {"take": do_take, "reply": do_reply, "release": do_release}


@require("staff")
async def api_handover_action(request: web.Request) -> web.Response:
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise NotFound(f"no action {request.match_info['action']!r}")
    return web.json_response(await action(request), dumps=dumps)


@require("staff")
async def form_handover_action(request: web.Request) -> web.StreamResponse:
    """The same actions from a plain form: back to the ticket's page (or the queue after a release)."""
    name = request.match_info["action"]
    action = ACTIONS.get(name)
    if action is None:
        raise web.HTTPNotFound()
    ticket = request.match_info["ticket"]
    try:
        await action(request)
    except (InvalidInput, AccessDenied, NotFound) as exc:
        return _handover_page(request, await _handover_json(request, ticket), error=str(exc), status=400)
    raise web.HTTPSeeOther("/staff" if name == "release" else f"/staff/handovers/{ticket}")


async def _handover_json(request: web.Request, ticket_id: str) -> dict[str, Any]:
    desk = _desk(request)

    def read() -> dict[str, Any]:
        ticket = desk.conversations.get_ticket(ticket_id)
        if ticket.kind != "handover":
            raise NotFound(f"no hand-over ticket {ticket_id!r}")
        taken = desk.take_of(ticket.id)
        holding = ticket.status == "open" and desk.conversations.paused_ticket(ticket.session) == ticket.id
        return {"ticket": ticket.id, "session": ticket.session, "channel": ticket.session.partition(":")[0],
                "text": shown(ticket.text), "created_at": ticket.created_at,
                "status": "open" if holding else "closed",
                "transcript": [{**line, "text": shown(str(line.get("text", "")))}
                               for line in ticket.transcript],
                "taken": asdict(taken) if taken else None}

    return await asyncio.to_thread(read)


@require("staff")
async def api_handover(request: web.Request) -> web.Response:
    data = await _handover_json(request, request.match_info["ticket"])
    return web.json_response(data, dumps=dumps, headers={"Cache-Control": "no-store"})


# -- the live calls ------------------------------------------------------------------------------------------
def _hotline(request: web.Request) -> Any:
    service = request.app.get(HOTLINE)
    if service is None:
        raise web.HTTPServiceUnavailable(reason="the hotline is not open")
    return service


def _calls(request: web.Request) -> list[dict[str, Any]]:
    service = request.app.get(HOTLINE)
    if service is None:
        return []
    out = []
    for call in service.calls.live():
        finals = call.finals("caller")
        out.append({"call_id": call.call_id, "line": call.line, "started_at": call.started_at,
                    "opened": call.opened, "segments": len(call.segments),
                    "last": masked_line(finals[-1])["text"] if finals else ""})
    return out


async def _call_json(request: web.Request, call_id: str) -> dict[str, Any]:
    service = _hotline(request)
    call = service.calls.get(call_id)
    state = service.suggestions.get(call_id)
    transcript = [masked_line(s) for s in call.ordered() if s.text]
    order = None
    if call.ended and service.orders is not None:
        with contextlib.suppress(NotFound):
            order = (await asyncio.to_thread(service.orders.get, call_id)).to_json()
    return {"call_id": call.call_id, "line": call.line, "started_at": call.started_at, "ended": call.ended,
            "transcript": transcript, "suggestions": service.current(call_id),
            "app_nos": list(state.app_nos) if state is not None else [], "order": order}


def _actor(request: web.Request) -> str:
    return f"staff:{current_user(request).name}"


@require("staff")
async def api_call(request: web.Request) -> web.Response:
    data = await _call_json(request, check_call_id(request.match_info["call_id"]))
    return web.json_response(data, dumps=dumps, headers={"Cache-Control": "no-store"})


def same_origin(request: web.Request) -> bool:
    """Whether the request's Origin names the host it was sent to (host and port; the scheme is left out, as
    a TLS-terminating proxy makes it differ).  No Origin is refused too: every browser sends one on a
    WebSocket handshake."""
    origin = request.headers.get("Origin", "")
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == request.host.lower()


@require("staff")
async def api_call_live(request: web.Request) -> web.StreamResponse:
    """The call's frames for the agent's page: the GET's JSON first, then what HotlineService pushes."""
    if not same_origin(request):
        return json_error(403, "this WebSocket opens only from the console's own pages (Origin)", "Forbidden")
    service, call_id = _hotline(request), check_call_id(request.match_info["call_id"])
    service.calls.get(call_id)  # NotFound (404) before the upgrade
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        return json_error(400, "this route is a WebSocket: open it with an Upgrade request", "InvalidInput")
    await ws.prepare(request)
    service.subscribe(call_id, ws, transcript=True)
    try:
        async with service.send_lock(ws):  # the snapshot goes out before any frame pushed meanwhile
            await ws.send_str(dumps({"type": "call", "call": await _call_json(request, call_id)}))
        await _hold(request, ws)
    finally:
        service.unsubscribe(ws)
    return ws


async def _hold(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Keep the socket until the browser closes it or the session ends (nothing is read from it)."""
    accounts, sid = request.app.get(ACCOUNTS), session_id(request)
    while not ws.closed:
        try:
            message = await ws.receive(timeout=SESSION_CHECK_SECONDS)
        except TimeoutError:
            live = await asyncio.to_thread(accounts.session, sid) if accounts is not None and sid else None
            if live is None:
                await ws.close(code=SESSION_GONE, message=b"the session ended: sign in again")
                return
            continue
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads((await request.read()).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object")
    return body


@require("staff")
async def api_pin(request: web.Request) -> web.Response:
    body = await _json_object(request)
    if not isinstance(body.get("doc_id"), str):
        raise InvalidInput('send {"doc_id": "..."}')
    call_id = check_call_id(request.match_info["call_id"])
    shown = _hotline(request).pin(call_id, body["doc_id"])
    await audit(request, "staff.call.pin", call_id, None, {"doc_id": body["doc_id"]})
    return web.json_response(shown, dumps=dumps)


@require("staff")
async def api_status(request: web.Request) -> web.Response:
    card = await _hotline(request).status_card(check_call_id(request.match_info["call_id"]),
                                               request.match_info["app_no"], _actor(request),
                                               request.remote or "")
    return web.json_response(card, dumps=dumps, headers={"Cache-Control": "no-store"})


@require("staff")
async def api_order(request: web.Request) -> web.Response:
    service, call_id = _hotline(request), check_call_id(request.match_info["call_id"])
    if request.method == "GET":
        if service.orders is None:
            raise NotFound("this hotline keeps no work orders")
        order = await asyncio.to_thread(service.orders.get, call_id)
    elif request.method == "PUT":
        order = await service.edit(call_id, await _json_object(request), _actor(request),
                                   request.remote or "")
    else:
        order = await service.submit(call_id, await _json_object(request), _actor(request),
                                     request.remote or "")
    return web.json_response(order.to_json(), dumps=dumps)


# -- pages and the queue's JSON ---------------------------------------------------------------------------
@require("staff")
async def api_queue(request: web.Request) -> web.Response:
    handovers = await asyncio.to_thread(_desk(request).queue)
    return web.json_response({"handovers": handovers, "calls": _calls(request)}, dumps=dumps,
                             headers={"Cache-Control": "no-store"})


@require("staff")
async def index_page(request: web.Request) -> web.Response:
    handovers = await asyncio.to_thread(_desk(request).queue)
    return render(request, "staff/index.html", {"handovers": handovers, "calls": _calls(request),
                                                "me": current_user(request)})


def _handover_page(request: web.Request, data: dict[str, Any], error: str = "", status: int = 200
                   ) -> web.Response:
    user = current_user(request)
    taken = data["taken"]
    mine = bool(taken and (taken["user_id"] == user.id or user.role == "admin"))
    return render(request, "staff/handover.html", {"t": data, "mine": mine, "error": error,
                                                   "label": agent_label(user),
                                                   "max_chars": MAX_REPLY_CHARS}, status=status)


@require("staff")
async def handover_page(request: web.Request) -> web.Response:
    return _handover_page(request, await _handover_json(request, request.match_info["ticket"]))


@require("staff")
async def call_page(request: web.Request) -> web.Response:
    call_id = check_call_id(request.match_info["call_id"])
    data = await _call_json(request, call_id)
    routing = getattr(_hotline(request), "routing", None)
    categories: list[str] = []
    if routing is not None:
        table = await asyncio.to_thread(routing.table)
        categories = list((table.get("categories") or {}).keys())
    return render(request, "staff/call.html", {"c": data, "kinds": KINDS,
                                               "categories": categories or list(CATEGORIES)})


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/staff", index_page),
    ("GET", "/staff/handovers/{ticket}", handover_page),
    ("POST", "/staff/handovers/{ticket}/{action}", form_handover_action),
    ("GET", "/staff/calls/{call_id}", call_page),
    ("GET", "/api/admin/staff/queue", api_queue),
    ("GET", "/api/admin/staff/handovers/{ticket}", api_handover),
    ("POST", "/api/admin/staff/handovers/{ticket}/{action}", api_handover_action),
    ("GET", "/api/admin/staff/calls/{call_id}", api_call),
    ("GET", "/api/admin/staff/calls/{call_id}/live", api_call_live),
    ("POST", "/api/admin/staff/calls/{call_id}/pin", api_pin),
    ("GET", "/api/admin/staff/calls/{call_id}/status/{app_no}", api_status),
    ("GET", "/api/admin/staff/calls/{call_id}/order", api_order),
    ("PUT", "/api/admin/staff/calls/{call_id}/order", api_order),
    ("POST", "/api/admin/staff/calls/{call_id}/order", api_order),
]


async def _desk_ctx(app: web.Application) -> AsyncIterator[None]:
    conversations = app.get(CONVERSATIONS)
    if conversations is None:  # the app's state did not open: nothing to staff
        yield
        return
    desk = await asyncio.to_thread(Desk, app[SETTINGS].paths.app_db, conversations)
    connector = app.get(WEB_CONNECTOR)
    if connector is not None:
        desk.web = connector
        connector.staff = desk
    desk.channels = app.get(CHANNELS)
    app[DESK] = desk
    loop = asyncio.get_running_loop().create_task(desk.run(TICK_SECONDS))
    try:
        yield
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        desk.close()


def setup_staff_console(app: web.Application) -> None:
    """The /staff pages and routes, their static files, and the desk (opened after the app's state)."""
    for verb, path, handler in ROUTES:
        app.router.add_route(verb, path, handler)
    app.router.add_static("/staff/static", STATIC_DIR, append_version=True)
    app.cleanup_ctx.append(_desk_ctx)
