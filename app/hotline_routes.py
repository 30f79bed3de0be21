"""The hotline's routes: the call centre's transcripts in, live suggestions and the drafted work order out.

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

The protocol is in docs/hotline.md; the service behind the routes is ``app.hotline.HotlineService``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from app.hotline import HotlineService
from app.keys import ACCOUNTS, HOTLINE
from app.middlewares import dumps, json_error
from connectors.hotline import (
    PROTOCOL_VERSION,
    End,
    Frame,
    Segment,
    Start,
    check_call_id,
    parse_frame,
    parse_segment,
)
from core.errors import CivicError, InvalidInput, NotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACTOR: web.RequestKey[str] = web.RequestKey("hotline_actor")  # who is calling: token (and agent) name
MAX_FRAME_BYTES = 64 * 1024
MAX_SEGMENTS_PER_POST = 200


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
