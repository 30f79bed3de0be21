"""What every console page shares: signed session cookies, role checks, CSRF, rendering, the audit call.

- The session cookie (``COOKIE``) holds a random session id and its HMAC under ``settings.session_key``; the
  server-side row (app/accounts.py) decides whether it is still live. HttpOnly, SameSite=Strict, Secure when
  the request came over TLS.
- :func:`admin_middleware` loads the session for every ``/admin`` and ``/api/admin`` request and refuses a
  state-changing request (POST, PUT, PATCH, DELETE) whose CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``) is not the session's. Before sign-in, the sign-in form is protected the same way by a
  token in a separate cookie (double submit).
- :func:`require` guards a handler by role: no session → a page redirects to the sign-in page, an API route
  answers 401; the wrong role → 403.
- :func:`render` renders a Jinja2 template (autoescaped) from ``app/templates/`` with the user, the CSRF field
  and the navigation.
- :func:`audit` appends one row to the audit log for the signed-in user's action.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from markupsafe import Markup

from app.accounts import Accounts, User, WebSession
from app.audit import AuditLog
from app.keys import ACCOUNTS, ARCHIVE, AUDIT, SETTINGS
from app.middlewares import json_error
from archive.store import Archive
from core.dates import local_today

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
COOKIE = "civic_session"
PRE_COOKIE = "civic_signin_csrf"  # the sign-in form's CSRF token, before there is a session
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN = "/admin/sign-in"
CSRF_REFUSED = "the form's security token (CSRF) is missing or out of date: reload the page and try again"
SESSION: web.RequestKey[WebSession | None] = web.RequestKey("web_session")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# the console's sections: (path, label, roles that see it); a section's module guards its own routes
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/admin", "概览 Overview", ("admin", "reviewer", "editor", "staff")),
    ("/admin/documents", "文件 Documents", ("reviewer", "editor")),
    ("/admin/review", "审核 Review", ("reviewer",)),
    ("/admin/curation", "训练 Curation", ("editor",)),
    ("/admin/analytics", "统计 Analytics", ("reviewer", "editor")),
    ("/admin/users", "用户 Users", ("admin",)),
    ("/admin/tokens", "令牌 Tokens", ("admin",)),
    ("/admin/audit", "审计 Audit log", ("admin",)),
    ("/staff", "坐席 Staff console", ("staff",)),
)


def is_console_path(path: str) -> bool:
    return path in ("/admin", "/staff") or path.startswith(("/admin/", "/api/admin/", "/staff/"))


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def client_ip(request: web.Request) -> str:
    return request.remote or ""


# -- the signed cookie ---------------------------------------------------------------------------------------
def _mac(key: str, value: str) -> str:
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def sign(key: str, sid: str) -> str:
    return f"{sid}.{_mac(key, sid)}"


def unsign(key: str, cookie: str) -> str:
    """The session id in a cookie whose signature holds, else ""."""
    sid, _, mac = (cookie or "").rpartition(".")
    if not sid or not key or not hmac.compare_digest(mac, _mac(key, sid)):
        return ""
    return sid


def set_session_cookie(request: web.Request, response: web.StreamResponse, sid: str) -> None:
    response.set_cookie(COOKIE, sign(request.app[SETTINGS].session_key, sid), httponly=True,
                        samesite="Strict", secure=request.secure, path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


def session_id(request: web.Request) -> str:
    return unsign(request.app[SETTINGS].session_key, request.cookies.get(COOKIE, ""))


def current_session(request: web.Request) -> WebSession | None:
    session: WebSession | None = request.get(SESSION)
    return session


def current_user(request: web.Request) -> User:
    """The signed-in user of a handler behind :func:`require`."""
    session = current_session(request)
    if session is None:
        raise web.HTTPUnauthorized(reason="not signed in")
    return session.user


# -- CSRF ----------------------------------------------------------------------------------------------------
async def _presented_csrf(request: web.Request) -> str:
    header = request.headers.get("X-CSRF-Token", "")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached on the request: the handler reads the same form
        value = form.get("csrf", "")
        return value if isinstance(value, str) else ""
    return ""


def pre_session_token(request: web.Request) -> str:
    return request.cookies.get(PRE_COOKIE, "")


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_console_path(request.path):
        return await handler(request)
    accounts = request.app.get(ACCOUNTS)
    sid = session_id(request)
    session = await asyncio.to_thread(accounts.session, sid) if accounts is not None and sid else None
    if request.method in UNSAFE:
        before_sign_in = pre_session_token(request) if request.path == SIGN_IN else ""
        expected = session.csrf if session else before_sign_in
        if not expected:  # refused before its body is read: a stranger's upload costs nothing
            return _refuse(request, 403, CSRF_REFUSED)
        if request.content_type == "multipart/form-data" and "X-CSRF-Token" not in request.headers:
            # a signed-in file upload without the page's script: its form (and the CSRF field in it) is read
            # whole here, under the upload limit instead of the app's general request limit
            request = request.clone(client_max_size=request.app[SETTINGS].max_upload_bytes + 64 * 1024)
        try:
            presented = await _presented_csrf(request)
        except web.HTTPRequestEntityTooLarge:
            limit = request.app[SETTINGS].max_upload_bytes
            return _refuse(request, 413, f"the upload is larger than {limit // (1024 * 1024)} MB, the limit: "
                                         "split the file or import it with `civic import` on the server")
        # bytes: compare_digest refuses str with non-ASCII characters (TypeError, a 500 before)
        if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            return _refuse(request, 403, CSRF_REFUSED)
    request[SESSION] = session
    return await handler(request)


def _refuse(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if _is_api(request):
        kinds = {401: "Unauthorized", 403: "Forbidden", 413: "TooLarge"}
        return json_error(status, message, kinds.get(status, "HTTPError"))
    return web.Response(status=status, text=_plain_page(status, message), content_type="text/html",
                        charset="utf-8")


def _plain_page(status: int, message: str) -> str:
    return environment().get_template("admin/error.html").render(
        status=status, message=message, user=None, nav=[], csrf_token="", csrf_field=lambda: "", path="")


# -- role checks ---------------------------------------------------------------------------------------------
def require(*roles: str) -> Callable[[Handler], Handler]:
    """Only a signed-in user holding one of ``roles`` (admins hold all) reaches the handler."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = current_session(request)
            if session is None:
                if _is_api(request):
                    return json_error(401, "sign in first", "Unauthorized")
                target = request.path_qs if request.method == "GET" else "/admin"
                raise web.HTTPSeeOther(f"{SIGN_IN}?next={quote(target, safe='')}")
            if not session.user.may(*roles):
                return _refuse(request, 403, f"this needs the role {' or '.join(roles)}; "
                                             f"you are signed in as {session.user.role}")
            return await handler(request)

        guarded.roles = roles  # type: ignore[attr-defined]  # read by the route-guard test
        return guarded

    return wrap


# -- rendering -----------------------------------------------------------------------------------------------
@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env


def _csrf_field(token: str) -> Callable[[], Markup]:
    return lambda: Markup('<input type="hidden" name="csrf" value="{}">').format(token)


def nav_for(user: User | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    return [{"href": href, "label": label, "current": path == href or (href != "/admin"
                                                                        and path.startswith(href))}
            for href, label, roles in NAV if user.may(*roles)]


def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200, csrf: str = "") -> web.Response:
    """The page; ``csrf`` is the sign-in form's token before there is a session."""
    session = current_session(request)
    token = session.csrf if session else (csrf or pre_session_token(request))
    user = session.user if session else None
    values = {"user": user, "csrf_token": token, "csrf_field": _csrf_field(token),
              "nav": nav_for(user, request.path),
              "path": request.path, **(context or {})}
    html = environment().get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


# -- audit ---------------------------------------------------------------------------------------------------
async def audit(request: web.Request, action: str, target: str = "", before: Any = None,
                after: Any = None, actor: User | None = None) -> None:
    """One audit row for this request's user (or ``actor``, e.g. at sign-in) doing ``action``."""
    log: AuditLog = request.app[AUDIT]
    user = actor or current_user(request)
    await asyncio.to_thread(log.record, user.name, user.role, action, target, before, after,
                            client_ip(request))


def archive_of(request: web.Request) -> Archive:
    archive = request.app.get(ARCHIVE)
    if archive is None:
        raise web.HTTPServiceUnavailable(reason="the archive is not open")
    return archive


def today(request: web.Request) -> str:
    """Today in the city (``settings.time_zone``), ISO."""
    return local_today(request.app[SETTINGS].time_zone)


def accounts_of(request: web.Request) -> Accounts:
    accounts = request.app.get(ACCOUNTS)
    if accounts is None:
        raise web.HTTPServiceUnavailable(reason="the user store is not open yet")
    return accounts


def new_pre_session_token() -> str:
    return secrets.token_urlsafe(24)
