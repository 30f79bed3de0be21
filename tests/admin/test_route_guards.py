"""Every console route (/admin…, /api/admin…) refuses a stranger and the wrong role, and every state-changing
one refuses a request without the session's CSRF token.  The routes are read from the app's router, so a
section added later is covered without editing this test."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from app.accounts import ROLES
from app.admin.web import SIGN_IN, is_console_path
from tests.admin.conftest import USERS, SignedIn

PUBLIC = {("GET", SIGN_IN), ("POST", SIGN_IN)}
USER_OF_ROLE = {role: name for name, role in reversed(list(USERS.items()))}


def console_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        if not is_console_path(path) or route.method == "HEAD" or "directory" in info:
            continue
        found.append((route.method, path, route.handler))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_the_console_has_guarded_routes_and_none_is_unguarded(admin_client: TestClient) -> None:
    routes = console_routes(admin_client.app)
    assert len(routes) >= 8
    unguarded = [(m, p) for m, p, h in routes if (m, p) not in PUBLIC and not getattr(h, "roles", None)]
    assert unguarded == [], "every console route must be wrapped in app.admin.web.require(...)"


async def test_without_a_session_every_console_route_refuses(admin_client: TestClient) -> None:
    for method, path, _handler in console_routes(admin_client.app):
        if (method, path) in PUBLIC:
            continue
        response = await admin_client.request(method, concrete(path), allow_redirects=False)
        if method in ("GET", "HEAD") and not path.startswith("/api/"):
            assert response.status == 303, (method, path, response.status)
            assert response.headers["Location"].startswith(SIGN_IN)
        elif method == "GET":
            assert response.status == 401, (method, path, response.status)
        else:  # no session: no CSRF token can match
            assert response.status in (401, 403), (method, path, response.status)


async def test_the_wrong_role_is_refused_and_unsafe_requests_need_the_csrf_token(
        admin_client: TestClient, signed_in: SignedIn) -> None:
    clients = {role: await signed_in(USER_OF_ROLE[role]) for role in ROLES}
    checked_roles = checked_csrf = 0
    for method, path, handler in console_routes(admin_client.app):
        if (method, path) in PUBLIC:
            continue
        allowed = set(handler.roles) | {"admin"}
        for role in set(ROLES) - allowed:
            client = clients[role]
            response = await client.request(method, concrete(path), allow_redirects=False,
                                            headers={"X-CSRF-Token": client.csrf})  # type: ignore[attr-defined]
            assert response.status == 403, (method, path, role, response.status)
            checked_roles += 1
        if method not in ("GET", "HEAD"):
            client = clients[next(iter(allowed & set(ROLES)))]
            response = await client.request(method, concrete(path), allow_redirects=False)
            assert response.status == 403, (method, path, "no csrf", response.status)
            assert "CSRF" in await response.text()
            checked_csrf += 1
    assert checked_roles >= 10 and checked_csrf >= 5


async def test_console_pages_carry_the_security_headers(signed_in: SignedIn) -> None:
    admin = await signed_in("admin1")
    response = await admin.get("/admin/users")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
