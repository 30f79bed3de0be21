"""Middlewares: civic's named errors become JSON error responses at the HTTP edge."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_log import AccessLogger

from core.errors import (
    AccessDenied,
    CivicError,
    EngineUnavailable,
    InvalidInput,
    NotFound,
    StorageUnavailable,
    TooManyAttempts,
)

log = logging.getLogger("civic.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# most specific first; any other CivicError is the client's fault
STATUS_OF: tuple[tuple[type[CivicError], int], ...] = (
    (InvalidInput, 400),
    (NotFound, 404),
    (AccessDenied, 403),
    (TooManyAttempts, 429),
    (EngineUnavailable, 503),
    (StorageUnavailable, 503),
)

dumps = partial(json.dumps, ensure_ascii=False)


def json_error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": message, "type": kind}, status=status, dumps=dumps)


def status_for(exc: CivicError) -> tuple[int, str]:
    """The HTTP status and the error type shown to the client: the category (InvalidInput, NotFound, ...),
    not the subclass that carries the detail."""
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status, cls.__name__
    return 400, type(exc).__name__


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CivicError as exc:
        status, kind = status_for(exc)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc)
        return json_error(status, str(exc), kind)
    except web.HTTPException as exc:
        # API clients get JSON for aiohttp's own errors too (405, 413, 404 on an unknown /api path)
        if exc.status >= 400 and request.path.startswith("/api/"):
            return json_error(exc.status, exc.reason, "HTTPError")
        raise
    except sqlite3.OperationalError as exc:  # a locked, read-only or full database: say which (503)
        error = StorageUnavailable.from_sqlite(exc)
        status, kind = status_for(error) if isinstance(error, StorageUnavailable) else (500, "InternalError")
        log.error("%s %s: %s", request.method, request.path, error)
        return json_error(status, str(error), kind)
    except HttpProcessingError as exc:
        # a body aiohttp could not parse while a handler read it (a malformed multipart part's headers):
        # the client's fault, not a 500
        return json_error(400, f"the request body is malformed: {exc.message or exc}", "InvalidInput")
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_error(500, "internal error; the details are in the app log", "InternalError")


class QuietAccessLogger(AccessLogger):
    """The access log without health probes (the supervisor polls /healthz; it logs state changes)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path == "/healthz":
            return
        super().log(request, response, time)
