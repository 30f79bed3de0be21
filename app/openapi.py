"""The OpenAPI 3.1 description of every HTTP route of the app, served at ``GET /api/openapi.json`` (public).

One entry per (method, path) in :data:`OPERATIONS`, next to the router (app/routes.py registers both);
``tests/fuzz/test_openapi.py`` walks the real router and fails when a route is missing here or this names a
route that does not exist, so a route added elsewhere must be described here too.  HEAD, which aiohttp adds
beside a route registered with ``add_get``, is not listed separately; a static directory is one
``{filename}`` path.

Security schemes: the console's signed session cookie (``civic_session``, roles as the requirement's list)
plus its CSRF token (header ``X-CSRF-Token`` or form field ``csrf``) on every state change under /admin and
/api/admin; bearer API tokens (``civic tokens add NAME --scope S``: hotline, staff, feeds; the staff API also
takes the shared staff token); the channel webhooks' own signatures.  Every error the app raises has one
shape, :data:`ERROR` (app/middlewares.py ``json_error``).

Request bodies are JSON Schemas of what each JSON route accepts; the catalog record is
archive/catalog_schema.json itself, not a copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from archive.catalog import schema as catalog_schema
from core.inputs import LANGUAGES, MAX_SESSION_CHARS

OPENAPI_PATH = "/api/openapi.json"
JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Why the request was refused (app/middlewares.py json_error): a sentence for a person and "
                   "the error's category (InvalidInput, NotFound, AccessDenied, TooManyAttempts, "
                   "EngineUnavailable, Unauthorized, HTTPError, InternalError).",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "type": {"type": "string"}},
}

ID = {"type": "string", "minLength": 1, "maxLength": 128}
ANY_OBJECT: dict[str, Any] = {"type": "object"}

SEGMENT: dict[str, Any] = {
    "type": "object",
    "description": "One speech-to-text segment of a call (connectors/hotline.py parse_segment).",
    "required": ["seq", "speaker", "text", "is_final"],
    "properties": {
        "call_id": {"type": "string"}, "seq": {"type": "integer", "minimum": 0},
        "speaker": {"enum": ["caller", "agent"]}, "text": {"type": "string", "maxLength": 2000},
        "is_final": {"type": "boolean"}, "start_ms": {"type": "integer", "minimum": 0},
        "end_ms": {"type": "integer", "minimum": 0},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
ORDER_EDIT: dict[str, Any] = {
    "type": "object",
    "description": "The work order's edited fields (app/workorder.py); {} submits the draft as it is.",
    "properties": {"kind": {"type": "string"}, "category": {"type": "string"}, "summary": {"type": "string"},
                   "department": {"type": "string"}, "contact": {"type": "string"},
                   "address": {"type": "string"}, "note": {"type": "string"}},
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": ERROR,
    "ChatRequest": {
        "type": "object", "required": ["session", "text"],
        "properties": {"session": {"type": "string", "minLength": 1, "maxLength": MAX_SESSION_CHARS},
                       "text": {"type": "string", "minLength": 1},
                       "language": {"enum": [*sorted(LANGUAGES), ""]}},
    },
    "Reply": {"type": "object", "description": "app.chat.Reply: the messages (text, buttons, citations), the "
                                               "session, the source (dialogue or search)."},
    "WebChatMessage": {
        "type": "object", "required": ["session"],
        "properties": {"session": {"type": "string", "pattern": "^[A-Za-z0-9_.@-]{1,64}$"},
                       "text": {"type": "string"}, "label": {"type": "string", "maxLength": 200},
                       "lang": {"type": "string"}, "key": {"type": "string"}},
    },
    "WebChatFeedback": {
        "type": "object", "required": ["session", "key", "value"],
        "properties": {"session": {"type": "string"}, "key": {"type": "string"},
                       "value": {"enum": ["up", "down"]}},
    },
    "ActionCall": {
        "type": "object", "description": "Rasa's action-server request (rasa_sdk): the action to run, the "
                                         "tracker and the domain.", "required": ["next_action"],
        "properties": {"next_action": {"type": "string"}, "sender_id": {"type": "string"},
                       "tracker": ANY_OBJECT, "domain": ANY_OBJECT, "version": {"type": "string"}},
    },
    "Release": {
        "type": "object", "description": "Exactly one of session or ticket.",
        "properties": {"session": {"type": "string", "minLength": 1}, "ticket": {"type": "string"}},
    },
    "Segment": SEGMENT,
    "Segments": {"oneOf": [{"$ref": "#/components/schemas/Segment"},
                           {"type": "array", "items": {"$ref": "#/components/schemas/Segment"},
                            "maxItems": 50}]},
    "Pin": {"type": "object", "required": ["doc_id"], "properties": {"doc_id": {"type": "string"}}},
    "OrderEdit": ORDER_EDIT,
    "StaffReply": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
    "AmazonConnectEvent": {
        "type": "object", "description": "One Contact Lens real-time event (connectors/hotline_adapters.py).",
        "properties": {"ContactId": {"type": "string"}, "EventType": {"type": "string"},
                       "Segments": {"type": "array", "items": ANY_OBJECT}},
    },
    "TelegramUpdate": {"type": "object", "description": "A Bot API Update.",
                       "properties": {"update_id": {"type": "integer"}}},
    "CatalogRecord": {"$ref": "#/components/schemas/catalog_record"},
    "Form": {"type": "object", "description": "An HTML form; state changes carry the session's csrf field.",
             "properties": {"csrf": {"type": "string"}}, "additionalProperties": {"type": "string"}},
}

SECURITY_SCHEMES: dict[str, Any] = {
    "session": {"type": "apiKey", "in": "cookie", "name": "civic_session",
                "description": "The console's signed session (POST /admin/sign-in); the requirement lists "
                               "the roles that may use the route (admin may use every one)."},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
             "description": "The session's CSRF token (or the form field csrf) on every state change."},
    "apiToken": {"type": "http", "scheme": "bearer",
                 "description": "An API token (civic tokens add NAME --scope hotline|staff|feeds|metrics); "
                                "the requirement lists its scope."},
    "staffToken": {"type": "http", "scheme": "bearer", "description": "The shared staff token."},
    "telegramSecret": {"type": "apiKey", "in": "header", "name": "X-Telegram-Bot-Api-Secret-Token"},
    "wechatSignature": {"type": "apiKey", "in": "query", "name": "signature",
                        "description": "sha1 of (token, timestamp, nonce), checked on every request."},
}


@dataclass(frozen=True)
class Op:
    """One route: what it does, who may call it, what it takes and what it answers."""

    summary: str
    tag: str
    security: list[dict[str, list[str]]] = field(default_factory=list)
    body: str | None = None  # a component schema name
    body_type: str = JSON
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    answers: str = JSON  # the success media type
    ok: int = 200
    fuzz: bool = True  # tests/fuzz generates requests for it (False: says why in the summary)
    returns: str | None = None  # a component schema name for the success body


def session(*roles: str, unsafe: bool = False) -> list[dict[str, list[str]]]:
    requirement: dict[str, list[str]] = {"session": list(roles)}
    if unsafe:
        requirement["csrf"] = []
    return [requirement]


def token(scope: str) -> list[dict[str, list[str]]]:
    return [{"apiToken": [scope]}]


STAFF_API: list[dict[str, list[str]]] = [{"staffToken": []}, {"apiToken": ["staff"]}]
EDITOR, ADMIN, STAFF = ("editor",), ("admin",), ("staff",)
REVIEWERS = ("reviewer", "editor")
ALL_ROLES = ("admin", "reviewer", "editor", "staff")
PAGE = {"type": "string", "description": "the page number, from 1"}
Q_STR = {"type": "string"}


def page(summary: str, tag: str, roles: tuple[str, ...] | None = None,
         query: tuple[tuple[str, dict[str, Any]], ...] = ()) -> Op:
    return Op(summary, tag, session(*roles) if roles else [], answers=HTML, query=query)


def form(summary: str, tag: str, roles: tuple[str, ...] | None, body_type: str = FORM, ok: int = 303,
         fuzz: bool = True) -> Op:
    security = session(*roles, unsafe=True) if roles else []
    return Op(summary, tag, security, body="Form", body_type=body_type, answers=HTML, ok=ok, fuzz=fuzz)


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): Op("The app's, engine's, archive's and index's state (503 when one is down).",
                            "app"),
    ("GET", OPENAPI_PATH): Op("This document.", "app"),
    ("POST", "/api/chat"): Op("One chat turn over REST: the reply (app.chat.Reply).", "chat",
                              body="ChatRequest", returns="Reply"),
    ("POST", "/webhook"): Op("Rasa's action endpoint; only the local engine (403 for anyone else).", "engine",
                             body="ActionCall"),
    # the staff API (app/staff.py)
    ("GET", "/api/staff/handovers"): Op("The open hand-over tickets.", "staff", STAFF_API,
                                        query=(("limit", {"type": "string", "description": "1-500"}),)),
    ("GET", "/api/staff/handovers/{ticket}"): Op("One hand-over ticket.", "staff", STAFF_API),
    ("POST", "/api/staff/release"): Op("Give a paused session back to the bot.", "staff", STAFF_API,
                                       body="Release"),
    ("GET", "/api/staff/tickets/{ticket}/contact"): Op("The contact details a citizen left on a ticket.",
                                                       "staff", STAFF_API),
    # the console (app/admin/*)
    ("GET", "/admin/sign-in"): page("The sign-in form.", "admin"),
    ("POST", "/admin/sign-in"): form("Sign in (name, password, csrf from the pre-session cookie).", "admin",
                                     None),
    ("POST", "/admin/sign-out"): form("Sign out (not fuzzed: it ends the fuzzer's session).", "admin",
                                      ALL_ROLES, fuzz=False),
    ("GET", "/admin"): page("The console's overview.", "admin", ALL_ROLES),
    ("GET", "/admin/users"): page("The users.", "admin", ADMIN),
    ("POST", "/admin/users"): form("Add a user (name, role, password).", "admin", ADMIN),
    ("POST", "/admin/users/{name}"): form("Change a user's role, password or state (not fuzzed: it can "
                                          "disable the fuzzer's own account).", "admin", ADMIN, fuzz=False),
    ("GET", "/admin/tokens"): page("The API tokens.", "admin", ADMIN),
    ("POST", "/admin/tokens"): form("Add an API token (name, scope).", "admin", ADMIN),
    ("POST", "/admin/tokens/{name}/revoke"): form("Revoke an API token (not fuzzed: it revokes the fuzzer's "
                                                  "tokens).", "admin", ADMIN, fuzz=False),
    ("GET", "/admin/audit"): page("The audit log.", "admin", ADMIN, (("page", PAGE), ("actor", Q_STR))),
    ("GET", "/admin/audit.csv"): Op("The audit log as CSV.", "admin", session(*ADMIN), answers="text/csv"),
    ("GET", "/admin/documents"): page("The archive's documents.", "documents", REVIEWERS,
                                      (("q", Q_STR), ("status", Q_STR), ("page", PAGE))),
    ("POST", "/admin/documents"): form("Create a document from the form.", "documents", EDITOR),
    ("GET", "/admin/documents/new"): page("The new-document form.", "documents", EDITOR),
    ("GET", "/admin/documents/upload"): page("The upload form.", "documents", EDITOR),
    ("POST", "/admin/documents/upload"): form("Import uploaded files (files, format) through the importers; "
                                              "a rejected file says why.", "documents", EDITOR, MULTIPART),
    ("GET", "/admin/documents/{doc_id}"): page("One document.", "documents", REVIEWERS),
    ("POST", "/admin/documents/{doc_id}"): form("Save a document's edit (version).", "documents", EDITOR),
    ("GET", "/admin/documents/{doc_id}/edit"): page("The edit form.", "documents", EDITOR),
    ("POST", "/admin/documents/{doc_id}/status"): form(
        "Change a document's status (to, reason, replaced_by).", "documents", EDITOR),
    ("GET", "/admin/analytics"): page("Usage analytics.", "analytics", REVIEWERS,
                                      (("days", Q_STR), ("channel", Q_STR))),
    ("GET", "/admin/analytics.csv"): Op("Usage analytics as CSV.", "analytics", session(*REVIEWERS),
                                        query=(("days", Q_STR),), answers="text/csv"),
    ("GET", "/admin/negative-list"): page("The review's negative list.", "review", ADMIN),
    ("POST", "/admin/negative-list"): form("Save the negative list (terms).", "review", ADMIN),
    ("GET", "/admin/review"): page("The review queue.", "review", ("reviewer",)),
    ("GET", "/admin/review/{doc_id}"): page("A document's review.", "review", REVIEWERS),
    ("POST", "/admin/review/{doc_id}/submit"): form("Submit for review (ack).", "review", EDITOR),
    ("POST", "/admin/review/{doc_id}/approve"): form("Approve (submission).", "review", ("reviewer",)),
    ("POST", "/admin/review/{doc_id}/reject"): form("Reject (submission, reason).", "review", ("reviewer",)),
    ("GET", "/admin/curation"): page("The curation inbox.", "curation", EDITOR),
    ("POST", "/admin/curation/examples"): form("Add training examples (text, intent).", "curation", EDITOR),
    ("POST", "/admin/curation/synonym"): form("Add a synonym (service, synonym).", "curation", EDITOR),
    ("POST", "/admin/curation/faq"): form("Add an FAQ answer (title, answer, text).", "curation", EDITOR),
    ("POST", "/admin/curation/dismiss"): form("Dismiss inbox items (reason).", "curation", EDITOR),
    ("POST", "/admin/curation/train"): form("Train a candidate model (not fuzzed: starts a training run).",
                                            "curation", EDITOR, fuzz=False),
    ("POST", "/admin/curation/candidates/{cid}/activate"): form(
        "Activate a candidate model (override; not fuzzed: swaps the engine's model).", "curation", EDITOR,
        fuzz=False),
    ("POST", "/admin/curation/rollback"): form("Roll back to the previous model (not fuzzed: swaps the "
                                               "engine's model).", "curation", EDITOR, fuzz=False),
    ("GET", "/api/admin/curation/status"): Op("The training run's state.", "curation", session(*EDITOR)),
    ("GET", "/admin/static/{filename}"): Op("The console's static files.", "static", answers="*/*"),
    # the public side (app/public.py, app/catalog.py)
    ("GET", "/public/abolished"): page("Abolished documents.", "public", query=(("page", PAGE),)),
    ("GET", "/catalog"): page("The public catalog and its search.", "catalog",
                              query=(("q", Q_STR), ("issuer", Q_STR), ("doc_no", Q_STR), ("index_no", Q_STR),
                                     ("from", Q_STR), ("to", Q_STR), ("status", Q_STR), ("page", PAGE))),
    ("GET", "/catalog/schema.json"): Op("The catalog record's JSON Schema.", "catalog",
                                        answers="application/schema+json"),
    ("GET", "/catalog/feed.atom"): Op("The catalog's Atom feed.", "catalog", answers="application/atom+xml"),
    ("GET", "/catalog/browse/{facet}"): page("Browse by a facet.", "catalog", query=(("page", PAGE),)),
    ("GET", "/catalog/doc/{doc_id}"): page("One document.", "catalog"),
    ("GET", "/catalog/doc/{doc_id}/v/{version}"): page("One version of a document.", "catalog"),
    ("GET", "/catalog/doc/{doc_id}/record.json"): Op("One catalog record.", "catalog",
                                                            returns="CatalogRecord"),
    ("GET", "/catalog/doc/{doc_id}/text.txt"): Op("A document's text.", "catalog", answers="text/plain"),
    ("GET", "/catalog/doc/{doc_id}/original"): Op("A document's original file.", "catalog", answers="*/*"),
    ("GET", "/metrics"): Op(
        "Prometheus metrics (app/metrics.py, docs/operations.md): loopback clients not behind a proxy, or an "
        "API token of scope metrics.", "operations", token("metrics"), answers="text/plain"),
    ("GET", "/api/catalog/changes"): Op(
        "The public catalog as a change feed (app/feeds.py): JSON lines of catalog records or withdrawals "
        "after since, then a next_since trailer; ETag / If-None-Match answers 304.", "catalog",
        token("feeds"),
        query=(("since", {"type": "string", "description": "a whole number"}),
               ("limit", {"type": "string", "description": "1-500"})), answers="application/x-ndjson"),
    ("GET", "/catalog/static/{filename}"): Op("The catalog's static files.", "static", answers="*/*"),
    ("GET", "/sitemap.xml"): Op("The sitemap.", "catalog", answers="application/xml"),
    # the hotline (app/hotline_routes.py)
    ("GET", "/api/hotline/stream"): Op("The speech-to-text WebSocket (frames in, acks and suggestions out).",
                                       "hotline", token("hotline"), ok=101),
    ("POST", "/api/hotline/calls/{call_id}/segments"): Op("Segments of a call.", "hotline", token("hotline"),
                                                          body="Segments"),
    ("POST", "/api/hotline/calls/{call_id}/end"): Op("End a call: its work order.", "hotline",
                                                     token("hotline")),
    ("GET", "/api/hotline/calls/{call_id}/suggestions"): Op("The call's suggestions.", "hotline",
                                                            token("hotline")),
    ("GET", "/api/hotline/calls/{call_id}/live"): Op("The agent's WebSocket of a call.", "hotline",
                                                     token("hotline"), ok=101),
    ("POST", "/api/hotline/calls/{call_id}/pin"): Op("Pin a document to the call.", "hotline",
                                                     token("hotline"), body="Pin"),
    ("GET", "/api/hotline/calls/{call_id}/status/{app_no}"): Op("An application's status card.", "hotline",
                                                                token("hotline")),
    ("GET", "/api/hotline/calls/{call_id}/order"): Op("The call's work order.", "hotline", token("hotline")),
    ("PUT", "/api/hotline/calls/{call_id}/order"): Op("Edit the work-order draft.", "hotline",
                                                      token("hotline"), body="OrderEdit"),
    ("POST", "/api/hotline/calls/{call_id}/order"): Op("Submit the work order.", "hotline", token("hotline"),
                                                       body="OrderEdit"),
    ("POST", "/api/hotline/adapters/amazon-connect"): Op("One Amazon Connect Contact Lens event.", "hotline",
                                                         token("hotline"), body="AmazonConnectEvent"),
    # the staff console (app/staff_console.py)
    ("GET", "/staff"): page("The staff console.", "staff console", STAFF),
    ("GET", "/staff/handovers/{ticket}"): page("A hand-over.", "staff console", STAFF),
    ("POST", "/staff/handovers/{ticket}/{action}"): form("take, reply (text) or release a hand-over.",
                                                         "staff console", STAFF),
    ("GET", "/staff/calls/{call_id}"): page("A hotline call.", "staff console", STAFF),
    ("GET", "/staff/static/{filename}"): Op("The staff console's static files.", "static", answers="*/*"),
    ("GET", "/api/admin/staff/queue"): Op("The hand-over queue.", "staff console", session(*STAFF)),
    ("GET", "/api/admin/staff/handovers/{ticket}"): Op("A hand-over and its transcript.", "staff console",
                                                       session(*STAFF)),
    ("POST", "/api/admin/staff/handovers/{ticket}/{action}"): Op(
        "take, reply ({text}) or release a hand-over.", "staff console", session(*STAFF, unsafe=True),
        body="StaffReply"),
    ("GET", "/api/admin/staff/calls/{call_id}"): Op("A hotline call.", "staff console", session(*STAFF)),
    ("GET", "/api/admin/staff/calls/{call_id}/live"): Op(
        "The agent page's WebSocket of a call: the call, then its pushed frames (same Origin only).",
        "staff console", session(*STAFF), ok=101),
    ("POST", "/api/admin/staff/calls/{call_id}/pin"): Op("Pin a document to the call.", "staff console",
                                                         session(*STAFF, unsafe=True), body="Pin"),
    ("GET", "/api/admin/staff/calls/{call_id}/status/{app_no}"): Op("An application's status card.",
                                                                    "staff console", session(*STAFF)),
    ("GET", "/api/admin/staff/calls/{call_id}/order"): Op("The call's work order.", "staff console",
                                                          session(*STAFF)),
    ("PUT", "/api/admin/staff/calls/{call_id}/order"): Op("Edit the work-order draft.", "staff console",
                                                          session(*STAFF, unsafe=True), body="OrderEdit"),
    ("POST", "/api/admin/staff/calls/{call_id}/order"): Op("Submit the work order.", "staff console",
                                                           session(*STAFF, unsafe=True), body="OrderEdit"),
    # the web chat (app/webchat.py, connectors/web.py)
    ("GET", "/"): page("The web chat page.", "web chat"),
    ("GET", "/webchat/static/{filename}"): Op("The web chat's static files.", "static", answers="*/*"),
    ("GET", "/ws"): Op("The web chat's WebSocket.", "web chat", ok=101),
    ("POST", "/api/webchat/message"): Op("A chat message over HTTP (the fallback; Idempotency-Key header).",
                                         "web chat", body="WebChatMessage"),
    ("GET", "/api/webchat/history"): Op("A session's recent turns.", "web chat",
                                        query=(("session", {"type": "string"}),)),
    ("POST", "/api/webchat/feedback"): Op("Thumbs up or down on an answer.", "web chat",
                                          body="WebChatFeedback"),
    # the messaging channels, registered only when configured (connectors/telegram.py, connectors/wechat.py)
    ("POST", "/telegram/webhook"): Op("A Telegram update (only when telegram_token is set).", "channels",
                                      [{"telegramSecret": []}], body="TelegramUpdate"),
    ("GET", "/wechat"): Op("WeChat's URL verification (only when wechat_token is set).", "channels",
                           [{"wechatSignature": []}], answers="text/plain",
                           query=(("timestamp", Q_STR), ("nonce", Q_STR), ("echostr", Q_STR))),
    ("POST", "/wechat"): Op("A WeChat message or event, XML (only when wechat_token is set).", "channels",
                            [{"wechatSignature": []}], body="Form", body_type="text/xml",
                            answers="application/xml"),
}

ERRORS = {
    "400": "the request is malformed; the body says which rule it broke",
    "401": "no credentials, or wrong ones",
    "403": "the wrong role, a missing CSRF token, or not the local engine",
    "404": "no such thing",
    "413": "the body is over the size limit",
    "429": "too many requests",
    "503": "a component is not open (engine, archive, channel)",
}


def _operation(method: str, path: str, op: Op) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _path_params(path)
    ]
    params += [{"name": name, "in": "query", "required": False, "schema": schema}
               for name, schema in op.query]
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    schema = {"$ref": f"#/components/schemas/{op.returns}"} if op.returns else {}
    responses: dict[str, Any] = {
        str(op.ok): {"description": "done", "content": {op.answers: {"schema": schema}}}}
    if op.ok == 303:
        responses["303"] = {"description": "done: back to the page (HTML forms)"}
    for status, why in ERRORS.items():
        responses[status] = {"description": why, **error}
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_') or 'root'}",
        "summary": op.summary, "tags": [op.tag], "security": op.security, "responses": responses,
        "x-fuzz": op.fuzz,
    }
    if params:
        operation["parameters"] = params
    if op.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            op.body_type: {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    return operation


def _path_params(path: str) -> list[str]:
    names, rest = [], path
    while "{" in rest:
        _, _, rest = rest.partition("{")
        name, _, rest = rest.partition("}")
        names.append(name)
    return names


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op)
    # a copy without "$schema" (3.1 components are 2020-12 already): the catalog's schema is cached and
    # shared, so popping from it would change what /catalog/schema.json serves for the rest of the process
    record = {key: value for key, value in catalog_schema().items() if key != "$schema"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Civic Assistant", "version": "1",
                 "description": "Every HTTP route of the app (app/openapi.py)."},
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, "catalog_record": record}, "securitySchemes": SECURITY_SCHEMES},
        "security": [],
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())


def setup_openapi(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, openapi_json)
