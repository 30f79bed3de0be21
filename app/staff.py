"""The staff API: hand-over tickets waiting for a person, and giving a paused conversation back to the bot.

A hand-over (``request_human``, or two failed turns) pauses the bot for that session; while paused the
citizen's messages are appended to the ticket.  Staff read the open tickets with their transcripts and,
when done, release the session: the ticket is closed and the bot answers that session again.

Every route needs ``Authorization: Bearer <token>``: the shared staff token (``settings.staff_token``:
``CIVIC_STAFF_TOKEN`` or ``<home>/secrets.toml``, generated there on first use) or an API token of scope
``staff`` (``civic tokens add NAME --scope staff``, revocable one by one); without one, or with a wrong
one, 401.

  GET  /api/staff/handovers[?limit=N]      open hand-over tickets, newest first, with transcripts
  GET  /api/staff/handovers/{ticket}       one hand-over ticket (open or closed)
  POST /api/staff/release                  {"session": "..."} or {"ticket": "..."} -> the bot answers again
  GET  /api/staff/tickets/{ticket}/contact the contact details the citizen gave in that conversation (phone,
                                           ID number...), decrypted: kept apart from every transcript, where
                                           they are masked (app/contacts.py)
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from app.contacts import ContactVault
from app.conversations import Conversations, Ticket
from app.keys import ACCOUNTS, CONTACTS, CONVERSATIONS, SETTINGS
from app.middlewares import dumps, json_error
from core.errors import InvalidInput, NotFound

MAX_LIMIT = 500
MAX_ID_CHARS = 128
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _presented_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def staff_only(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        expected = request.app[SETTINGS].staff_token
        presented = _presented_token(request)
        accounts = request.app.get(ACCOUNTS)
        shared = bool(expected and presented and hmac.compare_digest(presented.encode(), expected.encode()))
        scoped = bool(presented and not shared and accounts is not None
                      and await asyncio.to_thread(accounts.check_token, presented, "staff"))
        if not (shared or scoped):
            response = json_error(401, "staff token missing or wrong: send 'Authorization: Bearer <token>'",
                                  "Unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer realm="civic-staff"'
            return response
        return await handler(request)

    return guarded


def _conversations(request: web.Request) -> Conversations:
    conversations = request.app.get(CONVERSATIONS)
    if conversations is None:
        raise web.HTTPServiceUnavailable(reason="conversation state is not open yet")
    return conversations


def ticket_json(ticket: Ticket, conversations: Conversations) -> dict[str, Any]:
    return {**asdict(ticket), "paused": conversations.paused_ticket(ticket.session) == ticket.id}


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _identifier(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise InvalidInput(f"'{name}' must be a non-empty string of at most {MAX_ID_CHARS} characters")
    return value.strip()


@staff_only
async def list_handovers(request: web.Request) -> web.Response:
    conversations, limit = _conversations(request), _limit(request)

    def read() -> list[dict[str, Any]]:
        tickets = conversations.list_tickets(kind="handover", status="open", limit=limit)
        return [ticket_json(t, conversations) for t in tickets]

    return web.json_response({"tickets": await asyncio.to_thread(read)}, dumps=dumps)


@staff_only
async def get_handover(request: web.Request) -> web.Response:
    conversations = _conversations(request)
    ticket = await asyncio.to_thread(conversations.get_ticket, request.match_info["ticket"])
    if ticket.kind != "handover":
        raise NotFound(f"no hand-over ticket {ticket.id!r}")
    return web.json_response(await asyncio.to_thread(ticket_json, ticket, conversations), dumps=dumps)


@staff_only
async def ticket_contact(request: web.Request) -> web.Response:
    conversations = _conversations(request)
    vault: ContactVault | None = request.app.get(CONTACTS)
    if vault is None:
        raise web.HTTPServiceUnavailable(reason="the contact store is not open")
    ticket = await asyncio.to_thread(conversations.get_ticket, request.match_info["ticket"])
    contacts = await asyncio.to_thread(vault.contacts, ticket.session)
    return web.json_response({"ticket": ticket.id, "session": ticket.session, "contacts": contacts},
                             dumps=dumps, headers={"Cache-Control": "no-store"})


def release_handover(conversations: Conversations, session: str | None = None, ticket_id: str | None = None
                     ) -> tuple[str, str]:
    """Give a paused session back to the bot (by session, or by the hand-over ticket holding it): closes
    the ticket; NotFound when it is not waiting for staff.  Blocks (SQLite).  The staff console's release
    uses it too (app/staff_console.py)."""
    if ticket_id is not None:
        ticket = conversations.get_ticket(ticket_id)
        if ticket.kind != "handover":
            raise NotFound(f"no hand-over ticket {ticket_id!r}")
        session = ticket.session
    if session is None:
        raise InvalidInput("name the session or the ticket")
    paused = conversations.paused_ticket(session)
    if paused is None or (ticket_id is not None and paused != ticket_id):
        raise NotFound(f"session {session!r} is not waiting for staff" if ticket_id is None
                       else f"ticket {ticket_id!r} is not holding its session")
    conversations.release(session)
    return session, paused


@staff_only
async def release(request: web.Request) -> web.Response:
    try:
        body = json.loads((await request.read()).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"session": "..."} or {"ticket": "..."}')
    session, ticket_id = _identifier(body, "session"), _identifier(body, "ticket")
    if (session is None) == (ticket_id is None):
        raise InvalidInput("send exactly one of 'session' or 'ticket'")
    conversations = _conversations(request)
    session, paused = await asyncio.to_thread(release_handover, conversations, session, ticket_id)
    return web.json_response({"session": session, "ticket": paused, "released": True}, dumps=dumps)


def setup_staff_routes(app: web.Application) -> None:
    app.router.add_get("/api/staff/handovers", list_handovers)
    app.router.add_get("/api/staff/handovers/{ticket}", get_handover)
    app.router.add_post("/api/staff/release", release)
    app.router.add_get("/api/staff/tickets/{ticket}/contact", ticket_contact)
