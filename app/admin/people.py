"""The console's own pages: the overview, users and roles, API tokens, and the audit log (admins).

  GET  /admin                         what the signed-in user can do
  GET  /admin/users                   users with role and state;  POST …/users (add), …/users/{name} (role,
                                      disable, enable, reset password)
  GET  /admin/tokens                  integration tokens;  POST …/tokens (add: shown once),
                                      …/tokens/{name}/revoke
  GET  /admin/audit[?actor&action&target&since&until]   the audit log;  GET /admin/audit.csv  the same as CSV
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from app.accounts import ROLES, SCOPES
from app.admin.web import accounts_of, audit, current_user, render, require
from app.audit import AuditLog, AuditRow, to_csv
from app.keys import AUDIT
from core.errors import InvalidInput

MAX_AUDIT_ROWS = 10_000


@require("admin", "reviewer", "editor", "staff")
async def overview(request: web.Request) -> web.StreamResponse:
    return render(request, "admin/overview.html")


def _user_json(user: Any) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "disabled": user.disabled}


async def _users_page(request: web.Request, message: str = "", error: str = "",
                      status: int = 200) -> web.Response:
    users = await asyncio.to_thread(accounts_of(request).list_users)
    return render(request, "admin/users.html", {"users": users, "roles": ROLES, "message": message,
                                                "error": error}, status=status)


@require("admin")
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


@require("admin")
async def add_user(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, role, password = (str(form.get(k, "")) for k in ("name", "role", "password"))
    try:
        user = await asyncio.to_thread(accounts_of(request).add_user, name, role, password)
    except InvalidInput as exc:
        return await _users_page(request, error=str(exc), status=400)
    await audit(request, "user_add", user.name, None, _user_json(user))
    return await _users_page(request, message=f"用户 {user.name} 已添加 · user {user.name} added")


@require("admin")
async def change_user(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    form = await request.post()
    what = str(form.get("do", ""))
    accounts = accounts_of(request)
    before = _user_json(await asyncio.to_thread(accounts.get_user, name))
    try:
        if what == "role":
            if name == current_user(request).name:
                raise InvalidInput("you cannot change your own role: ask another admin")
            user = await asyncio.to_thread(accounts.set_role, name, str(form.get("role", "")))
        elif what in ("disable", "enable"):
            if name == current_user(request).name and what == "disable":
                raise InvalidInput("you cannot disable your own account")
            user = await asyncio.to_thread(accounts.set_disabled, name, what == "disable")
        elif what == "reset":
            user = await asyncio.to_thread(accounts.reset_password, name, str(form.get("password", "")))
        else:
            raise InvalidInput("choose what to change: role, disable, enable or reset")
    except InvalidInput as exc:
        return await _users_page(request, error=str(exc), status=400)
    after = _user_json(user)
    await audit(request, f"user_{what}", name, before, after if what != "reset" else {**after,
                                                                                       "password": "reset"})
    return await _users_page(request, message=f"用户 {name} 已更新 · user {name} updated")


async def _tokens_page(request: web.Request, new_token: str = "", new_name: str = "", error: str = "",
                       status: int = 200) -> web.Response:
    tokens = await asyncio.to_thread(accounts_of(request).list_tokens)
    return render(request, "admin/tokens.html", {"tokens": tokens, "scopes": SCOPES, "new_token": new_token,
                                                 "new_name": new_name, "error": error}, status=status)


@require("admin")
async def tokens_page(request: web.Request) -> web.StreamResponse:
    return await _tokens_page(request)


@require("admin")
async def add_token(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name, scope = str(form.get("name", "")), str(form.get("scope", ""))
    try:
        token = await asyncio.to_thread(accounts_of(request).add_token, name, scope)
    except InvalidInput as exc:
        return await _tokens_page(request, error=str(exc), status=400)
    await audit(request, "token_add", name, None, {"name": name, "scope": scope})
    return await _tokens_page(request, new_token=token, new_name=name)


@require("admin")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    await asyncio.to_thread(accounts_of(request).revoke_token, name)
    await audit(request, "token_revoke", name)
    return await _tokens_page(request)


def _day(raw: str, name: str, end: bool = False) -> float | None:
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"'{name}' must be a date like 2026-12-01") from exc
    return day.timestamp() + (86_400 if end else 0)


AUDIT_FILTERS = ("actor", "action", "target", "since", "until")


def _audit_filters(request: web.Request) -> dict[str, str]:
    return {k: request.query.get(k, "").strip() for k in AUDIT_FILTERS}


async def _audit_rows(request: web.Request, limit: int) -> tuple[list[AuditRow], dict[str, str]]:
    q = _audit_filters(request)
    log: AuditLog = request.app[AUDIT]
    rows = await asyncio.to_thread(log.query, q["actor"], q["action"], q["target"],
                                   _day(q["since"], "since"), _day(q["until"], "until", end=True), limit)
    return rows, q


@require("admin")
async def audit_page(request: web.Request) -> web.StreamResponse:
    try:
        rows, q = await _audit_rows(request, 200)
    except InvalidInput as exc:
        return render(request, "admin/audit.html", {"rows": [], "q": _audit_filters(request), "actions": [],
                                                    "error": str(exc), "when": _when}, status=400)
    actions = await asyncio.to_thread(request.app[AUDIT].actions)
    return render(request, "admin/audit.html", {"rows": rows, "q": q, "actions": actions, "error": "",
                                                "when": _when})


@require("admin")
async def audit_csv(request: web.Request) -> web.StreamResponse:
    rows, _q = await _audit_rows(request, MAX_AUDIT_ROWS)
    return web.Response(text=to_csv(rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


ROUTES = [
    ("GET", "/admin", overview),
    ("GET", "/admin/users", users_page),
    ("POST", "/admin/users", add_user),
    ("POST", "/admin/users/{name}", change_user),
    ("GET", "/admin/tokens", tokens_page),
    ("POST", "/admin/tokens", add_token),
    ("POST", "/admin/tokens/{name}/revoke", revoke_token),
    ("GET", "/admin/audit", audit_page),
    ("GET", "/admin/audit.csv", audit_csv),
]
