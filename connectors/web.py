"""The web chat channel: a WebSocket (/ws) and, when WebSockets fail, POST /api/webchat/message.

Wire protocol on /ws?session=<id> (JSON text frames):
  browser → server  {"type": "message", "key": <idempotency key>, "text": ..., "label": <shown text>,
                     "lang": <the UI language, "zh" | "en">}
                    {"type": "ping"}
  server → browser  {"type": "ack", "key"}                      the message arrived; the assistant is working
                    {"type": "reply", "key", "duplicate", "reply": {session, messages, intent, handoff, mode}}
                    {"type": "error", "key", "code", "retry_after"?}   code: rate_limited | too_long | empty |
                                                                       bad_request | unavailable | internal
                    {"type": "pong"}
                    {"type": "staff", "id", "from", "text", "after_key", "at"}   a person's reply (hand-over)
                    {"type": "queue", "state": "waiting", "ticket", "position"}  the citizen's place in the
                    {"type": "queue", "state": "taken", "ticket", "agent"}       hand-over queue, who has
                    {"type": "queue", "state": "released"}                       them, the bot is back
The staff frames come from the staff console (app/staff_console.py), through :attr:`WebConnector.staff`.
The HTTP fallback is POST /api/webchat/message with an ``Idempotency-Key`` header and
``{"session": "web:<id>", "text", "label", "lang"}``: the same idempotency, history and limits as the socket.
History: GET /api/webchat/history?session=<id> (with the staff replies and the queue state).
Feedback: POST /api/webchat/feedback {session, key, value}.

The app registers :data:`ROUTES` and binds each to the connector it built (``app/routes.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

from aiohttp import WSMsgType, web

from connectors.base import Capabilities, ChatHandler, Connector, Inbound, Outbound
from connectors.history import FEEDBACK_VALUES, History, Turn
from connectors.ratelimit import RateLimiter
from core.errors import EngineUnavailable, InvalidInput, StorageUnavailable
from core.inputs import EmptyText, TextTooLong, channel_session, check_key

log = logging.getLogger(__name__)

CHANNEL = "web"
MAX_SOCKETS_PER_IP = 20
MAX_FRAME_BYTES = 16 * 1024
FeedbackHook = Callable[[Turn, str], Awaitable[None]]


class StaffSide(Protocol):
    """What the web chat asks the staff console about a session handed over to a person."""

    async def queue_state(self, session: str) -> dict[str, Any] | None: ...

    async def staff_lines(self, session: str) -> list[dict[str, Any]]: ...


class WebConnector(Connector):
    name: ClassVar[str] = CHANNEL
    capabilities: ClassVar[Capabilities] = Capabilities(buttons=True, cards=True, citations=True)
    # (method, path, handler method): registered by the app
    ROUTES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("GET", "/ws", "socket"),
        ("POST", "/api/webchat/message", "http_message"),
        ("GET", "/api/webchat/history", "history_view"),
        ("POST", "/api/webchat/feedback", "feedback_view"),
    )

    def __init__(
        self, chat: ChatHandler, history: History | None = None, max_text_chars: int = 500, *,
        limiter: RateLimiter | None = None, on_feedback: FeedbackHook | None = None,
    ) -> None:
        super().__init__(chat, history, max_text_chars)
        self.limiter = limiter or RateLimiter()
        self.on_feedback = on_feedback  # told of each thumbs (the curation log), after it is stored
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.sockets_per_ip: dict[str, int] = {}
        self.by_user: dict[str, set[web.WebSocketResponse]] = {}  # the open sockets of each citizen
        self.staff: StaffSide | None = None  # set by the staff console when the app has one

    async def notify(self, user: str, frame: dict[str, Any]) -> int:
        """Push ``frame`` to every open socket of ``user`` (outside a turn); how many got it."""
        sent = 0
        for ws in list(self.by_user.get(user, ())):
            if ws.closed:
                continue
            try:
                await ws.send_json(frame)
                sent += 1
            except (ConnectionError, RuntimeError):
                continue
        return sent

    async def send(self, user: str, text: str) -> None:
        """A person's reply to a handed-over chat (Channels.send); the staff console sends its own frame
        with the reply's id and the staff member's number."""
        await self.notify(user, {"type": "staff", "id": None, "from": "", "text": text})

    def _outbound(self, session: str, key: str, reply: dict[str, Any], duplicate: bool = False) -> Outbound:
        out = super()._outbound(session, key, reply, duplicate)
        if reply.get("mode"):
            out.extra["mode"] = reply["mode"]  # "paused": the message went to the person, not the bot
        return out

    # -- shared by both transports ------------------------------------------------------------------
    async def _answered(self, user: str, key: str) -> bool:
        if self.history is None:
            return False
        turn = await asyncio.to_thread(self.history.find, channel_session(CHANNEL, user), key)
        return turn is not None and turn.reply is not None

    async def turn(
        self, user: str, ip: str, key: str, text: str, label: str, lang: str = ""
    ) -> Outbound | dict[str, Any]:
        """One web turn: an Outbound, or an error dict {"code", "retry_after"?} to show politely."""
        try:
            check_key(key)
            channel_session(CHANNEL, user)
        except InvalidInput:
            return {"code": "bad_request"}
        if not key:
            return {"code": "bad_request"}
        language = lang if lang in ("zh", "en") else ""  # an unknown UI language is no hint
        inbound = Inbound(CHANNEL, user, text, key, label[:200], language)
        try:
            self.validate(inbound)
        except EmptyText:
            return {"code": "empty", "max_chars": self.max_text_chars}
        except TextTooLong:
            return {"code": "too_long", "max_chars": self.max_text_chars}
        except InvalidInput:
            return {"code": "bad_request"}
        if not await self._answered(user, key):  # a re-sent message costs nothing: its answer is stored
            wait = self.limiter.check(channel_session(CHANNEL, user), ip)
            if wait:
                return {"code": "rate_limited", "retry_after": wait}
        try:
            out = await self.receive(inbound)
            if out.handoff and self.staff is not None:  # where the citizen is in the queue, at once
                out.extra["queue"] = await self.staff.queue_state(out.session)
            return out
        except EngineUnavailable:
            return {"code": "unavailable"}
        except InvalidInput:
            return {"code": "bad_request"}
        except sqlite3.OperationalError as exc:  # app.db locked, read-only or its disk full: say so
            log.error("web chat turn not stored: %s", StorageUnavailable.from_sqlite(exc))
            return {"code": "unavailable"}
        except Exception:
            log.exception("web chat turn failed")
            return {"code": "internal"}

    # -- WebSocket ---------------------------------------------------------------------------------
    async def socket(self, request: web.Request) -> web.StreamResponse:
        user = request.query.get("session", "")
        try:
            channel_session(CHANNEL, user)
        except InvalidInput as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        ip = request.remote or "?"
        if self.sockets_per_ip.get(ip, 0) >= MAX_SOCKETS_PER_IP:
            raise web.HTTPTooManyRequests(text="too many open chats from this address")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        self.sockets.add(ws)
        self.sockets_per_ip[ip] = self.sockets_per_ip.get(ip, 0) + 1
        self.by_user.setdefault(user, set()).add(ws)
        try:
            if self.staff is not None:
                state = await self.staff.queue_state(channel_session(CHANNEL, user))
                if state is not None:
                    await ws.send_json({"type": "queue", **state})
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(frame.data)
                    if not isinstance(data, dict):
                        raise ValueError("not an object")
                except ValueError:
                    await ws.send_json({"type": "error", "key": "", "code": "bad_request"})
                    continue
                if data.get("type") == "ping":
                    await ws.send_json({"type": "pong"})
                elif data.get("type") == "message":
                    await self._socket_message(ws, user, ip, data)
                else:
                    await ws.send_json({"type": "error", "key": "", "code": "bad_request"})
        finally:
            mine = self.by_user.get(user, set())
            mine.discard(ws)
            if not mine:
                self.by_user.pop(user, None)
            left = self.sockets_per_ip.get(ip, 1) - 1
            if left > 0:
                self.sockets_per_ip[ip] = left
            else:
                self.sockets_per_ip.pop(ip, None)
        return ws

    async def _socket_message(
        self, ws: web.WebSocketResponse, user: str, ip: str, data: dict[str, Any]
    ) -> None:
        key, text, label, lang = (str(data.get(k) or "") for k in ("key", "text", "label", "lang"))
        await ws.send_json({"type": "ack", "key": key})
        result = await self.turn(user, ip, key, text, label, lang)
        if ws.closed:
            return  # the browser re-sends on reconnect and gets the stored answer
        if isinstance(result, Outbound):
            await ws.send_json(
                {"type": "reply", "key": key, "duplicate": result.duplicate, "reply": result.to_json()}
            )
        else:
            await ws.send_json({"type": "error", "key": key, **result})

    async def close(self) -> None:
        """Close the open sockets (at shut-down): the browsers reconnect to whichever app comes up."""
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutting down")

    # -- HTTP fallback -----------------------------------------------------------------------------
    async def http_message(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        session = str(body.get("session") or "")
        if not session.startswith(CHANNEL + ":"):
            return web.json_response({"error": "web chat sessions look like 'web:<id>'"}, status=400)
        result = await self.turn(
            session[len(CHANNEL) + 1 :],
            request.remote or "?",
            key,
            str(body.get("text") or ""),
            str(body.get("label") or ""),
            str(body.get("lang") or ""),
        )
        if isinstance(result, Outbound):
            return web.json_response({**result.to_json(), "key": key, "duplicate": result.duplicate})
        status = {"rate_limited": 429, "unavailable": 503, "internal": 500}.get(result["code"], 400)
        headers = {"Retry-After": str(int(result["retry_after"]))} if "retry_after" in result else None
        return web.json_response({"error": result["code"], "key": key, **result}, status=status,
                                 headers=headers)

    # -- history and feedback ----------------------------------------------------------------------
    async def history_view(self, request: web.Request) -> web.Response:
        user = request.query.get("session", "")
        try:
            session = channel_session(CHANNEL, user)
        except InvalidInput as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        turns = await asyncio.to_thread(self.history.recent, session) if self.history else []
        body: dict[str, Any] = {"session": session, "turns": [t.to_json() for t in turns]}
        if self.staff is not None:
            body["staff"] = await self.staff.staff_lines(session)
            body["queue"] = await self.staff.queue_state(session)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def feedback_view(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user, key, value = (str(body.get(k) or "") for k in ("session", "key", "value"))
            session = channel_session(CHANNEL, user)
            check_key(key)
        except (ValueError, AttributeError, InvalidInput) as exc:
            raise web.HTTPBadRequest(text=f"bad feedback: {exc}") from exc
        if value not in FEEDBACK_VALUES:
            raise web.HTTPBadRequest(text="value must be 'up' or 'down'")
        wait = self.limiter.ips.take(request.remote or "?")
        if wait:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(int(wait) + 1)})
        if not await self.record_feedback(session, key, value):
            raise web.HTTPNotFound(text="no answered message with that key in this session")
        return web.json_response({"ok": True, "key": key, "value": value})
