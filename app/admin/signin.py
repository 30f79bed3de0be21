"""Signing in and out of the console.

  GET  /admin/sign-in[?next=/admin/…]   the form (a pre-session CSRF cookie protects it)
  POST /admin/sign-in                   name + password → a session cookie, then the page asked for
  POST /admin/sign-out                  ends the session (its server-side row is revoked)
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from app.admin.web import (
    PRE_COOKIE,
    SIGN_IN,
    accounts_of,
    audit,
    clear_session_cookie,
    client_ip,
    current_session,
    new_pre_session_token,
    pre_session_token,
    render,
    require,
    session_id,
    set_session_cookie,
)
from app.keys import AUDIT
from core.errors import AccessDenied, TooManyAttempts


def _safe_next(raw: str) -> str:
    """Only a path inside the console: never another site (an open redirect)."""
    if raw.startswith("/admin") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/admin"


def _form(request: web.Request, error: str = "", name: str = "", status: int = 200,
          token: str = "") -> web.Response:
    return render(request, "admin/sign_in.html",
                  {"error": error, "name": name, "next": _safe_next(request.query.get("next", ""))},
                  status=status, csrf=token)


async def sign_in_form(request: web.Request) -> web.StreamResponse:
    if current_session(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next", "")))
    if not pre_session_token(request):
        # render with the new token, and hand it to the browser as the cookie the POST is checked against
        token = new_pre_session_token()
        response = _form(request, token=token)
        response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="Strict", secure=request.secure,
                            path=SIGN_IN)
        return response
    return _form(request)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    accounts = accounts_of(request)
    try:
        user = await asyncio.to_thread(accounts.authenticate, name, password, client_ip(request))
    except TooManyAttempts as exc:
        await asyncio.to_thread(request.app[AUDIT].record, name[:64] or "?", "", "sign_in_locked", "", None,
                                None, client_ip(request))
        return _form(request, str(exc), name, status=429, token=pre_session_token(request))
    except AccessDenied as exc:
        await asyncio.to_thread(request.app[AUDIT].record, name[:64] or "?", "", "sign_in_failed", "", None,
                                None, client_ip(request))
        return _form(request, str(exc), name, status=401, token=pre_session_token(request))
    sid, _csrf = await asyncio.to_thread(accounts.open_session, user, client_ip(request))
    await audit(request, "sign_in", user.name, actor=user)
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    set_session_cookie(request, response, sid)
    response.del_cookie(PRE_COOKIE, path=SIGN_IN)
    raise response


@require("admin", "reviewer", "editor", "staff")
async def sign_out(request: web.Request) -> web.StreamResponse:
    await audit(request, "sign_out")
    await asyncio.to_thread(accounts_of(request).close_session, session_id(request))
    response = web.HTTPSeeOther(SIGN_IN)
    clear_session_cookie(response)
    raise response


ROUTES = [
    ("GET", SIGN_IN, sign_in_form),
    ("POST", SIGN_IN, sign_in),
    ("POST", "/admin/sign-out", sign_out),
]
