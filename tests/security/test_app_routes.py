"""Every route of the real app (``create_app``, every channel on) is either on a short public allow-list or
refuses a stranger: no credentials → 401 (APIs), 303 to the sign-in page (console pages) or 403 (the Rasa
action endpoint and loopback-only routes seen through a proxy); a credential of the wrong scope or role →
401/403.  The routes are read from the router, so a route added later without a guard fails here.

The console's role-by-role and CSRF checks are tests/admin/test_route_guards.py; this test covers the whole
app and the bearer-token APIs (staff, hotline, feeds, metrics) besides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from app.accounts import SCOPES, Accounts
from app.admin.web import SIGN_IN, is_console_path
from app.factory import create_app
from core.settings import Settings
from tests.admin.conftest import USERS, create_users, sign_in_client
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any

# (method, path or path prefix ending in "*"): what a citizen, a crawler or a channel's servers may call
PUBLIC = (
    ("GET", "/"), ("GET", "/webchat/static*"),  # the chat page and its assets
    ("GET", "/ws"), ("POST", "/api/chat"), ("*", "/api/webchat/*"),  # the chat transports
    ("GET", "/catalog*"), ("GET", "/public/*"), ("GET", "/sitemap.xml"),  # the public catalog
    ("GET", "/healthz"), ("GET", "/api/openapi.json"),
    ("POST", "/telegram/webhook"), ("*", "/wechat"),  # channel webhooks: their own signature checks
    ("GET", "/admin/static*"), ("GET", "/staff/static*"),  # stylesheets and scripts, no data
    ("GET", SIGN_IN), ("POST", SIGN_IN),
)
FROM_OUTSIDE = {"X-Forwarded-For": "203.0.113.9"}  # a request relayed by a proxy: not the local engine
REFUSED = (401, 403)


def is_public(method: str, path: str) -> bool:
    for verb, pattern in PUBLIC:
        if verb not in ("*", method):
            continue
        if (pattern.endswith("*") and path.startswith(pattern[:-1])) or path == pattern:
            return True
    return False


def app_routes(app: web.Application) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        if route.method != "HEAD":
            found.append((route.method, path))
    return sorted(set(found))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.fixture
def all_on(settings: Settings) -> Settings:
    create_users(settings)
    return settings.with_overrides(telegram_token="123:abc", telegram_webhook_secret="s" * 16,
                                   telegram_api_url="http://127.0.0.1:9/bot", wechat_token="wt",
                                   wechat_api_url="http://127.0.0.1:9/")


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, all_on: Settings) -> TestClient:
    result: TestClient = await aiohttp_client(create_app(all_on, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    return result


def _tokens(home: Path) -> dict[str, str]:
    accounts = Accounts(home / "app.db")
    try:
        return {scope: accounts.add_token(f"t-{scope}", scope) for scope in SCOPES}
    finally:
        accounts.close()


async def test_every_route_is_public_by_name_or_refuses_a_stranger(client: TestClient) -> None:
    routes = app_routes(client.app)
    protected = [(m, p) for m, p in routes if not is_public(m, p)]
    assert len(routes) >= 60 and len(protected) >= 40
    # the families the issue names are all there, and none is on the allow-list
    for family in ("/admin/", "/staff", "/api/staff/", "/api/hotline/", "/webhook"):
        assert any(p.startswith(family) for _m, p in protected), family
    wrong: list[tuple[str, str, int]] = []
    for method, path in protected:
        response = await client.request(method, concrete(path), allow_redirects=False, headers=FROM_OUTSIDE)
        status = response.status
        to_sign_in = status == 303 and response.headers.get("Location", "").startswith(SIGN_IN)
        if not (status in REFUSED or to_sign_in):
            wrong.append((method, path, status))
    assert wrong == [], f"routes that answered a stranger (add a guard or put them on PUBLIC): {wrong}"


async def test_a_credential_of_the_wrong_kind_is_refused(client: TestClient, all_on: Settings) -> None:
    tokens = _tokens(all_on.home)
    wrong: list[tuple[str, str, str, int]] = []
    checked = 0
    for method, path in app_routes(client.app):
        if is_public(method, path):
            continue
        if path.startswith("/api/staff/"):
            offered = [s for s in SCOPES if s != "staff"]
        elif path.startswith("/api/hotline/"):
            offered = [s for s in SCOPES if s != "hotline"]
        elif path.startswith("/api/catalog/changes"):
            offered = [s for s in SCOPES if s != "feeds"]
        elif path == "/metrics":
            offered = [s for s in SCOPES if s != "metrics"]
        else:  # console pages, the action endpoint: no API token of any scope opens them
            offered = list(SCOPES)
        for scope in offered:
            headers = {**FROM_OUTSIDE, "Authorization": f"Bearer {tokens[scope]}"}
            response = await client.request(method, concrete(path), allow_redirects=False, headers=headers)
            checked += 1
            to_sign_in = response.status == 303 and is_console_path(path)
            if not (response.status in REFUSED or to_sign_in):
                wrong.append((method, path, scope, response.status))
    assert checked >= 100
    assert wrong == [], wrong


async def test_a_signed_in_citizen_role_opens_no_bearer_api(client: TestClient) -> None:
    # a console session (cookie) is not a staff/hotline token: the bearer APIs ignore it
    staff = next(name for name, role in USERS.items() if role == "staff")
    await sign_in_client(client, staff)
    for method, path in app_routes(client.app):
        if path.startswith(("/api/staff/", "/api/hotline/")) and method == "GET":
            response = await client.request(method, concrete(path), headers=FROM_OUTSIDE)
            assert response.status == 401, (method, path, response.status)


async def test_the_action_endpoint_serves_only_the_local_engine(client: TestClient, all_on: Settings) -> None:
    body = {"next_action": "action_listen", "tracker": {}, "domain": {}}
    assert (await client.post("/webhook", json=body, headers=FROM_OUTSIDE)).status == 403
    given = await client.post(f"/webhook?token={all_on.engine_token}", json=body, headers=FROM_OUTSIDE)
    assert given.status != 403  # the engine token opens it from anywhere
