"""Console fixtures: one user per role (plus a second reviewer and editor, for the four-eyes rule), an app
client that signs in as any of them, and a live server for Playwright with a ``sign_in(page, name)`` helper.

Users are created through the real store (app/accounts.py, Argon2) before the app starts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient

from app.accounts import Accounts
from app.factory import create_app
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever
from tests.web.conftest import browser, context, page  # noqa: F401  (Chromium fixtures, reused)
from tests.web.fakes import FakeChat, LiveServer, fake_app

PASSWORD = "correct-horse-42"
USERS = {"admin1": "admin", "reviewer1": "reviewer", "reviewer2": "reviewer", "editor1": "editor",
         "editor2": "editor", "staff1": "staff"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')

AiohttpClient = Any
SignedIn = Callable[[str], Awaitable[TestClient]]


def create_users(settings: Settings) -> None:
    accounts = Accounts(settings.paths.app_db)
    try:
        for name, role in USERS.items():
            accounts.add_user(name, role, PASSWORD)
    finally:
        accounts.close()


def csrf_of(html: str) -> str:
    found = CSRF_META.search(html)
    assert found, "the page has no csrf-token meta tag"
    return found.group(1)


async def sign_in_client(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in as ``name`` through the real form; returns the session's CSRF token."""
    form_page = await client.get("/admin/sign-in")
    assert form_page.status == 200
    token = csrf_of(await form_page.text())
    response = await client.post("/admin/sign-in", data={"name": name, "password": password, "csrf": token,
                                                           "next": "/admin"}, allow_redirects=False)
    assert response.status == 303, await response.text()
    overview = await client.get("/admin")
    assert overview.status == 200
    return csrf_of(await overview.text())


async def signed_in_client(server: Any, name: str) -> TestClient:
    """A new client of ``server`` with its own cookie jar, signed in as ``name`` through the real form; its
    CSRF token is in ``client.csrf``."""
    client = TestClient(server, cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    client.csrf = await sign_in_client(client, name)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    create_users(settings)
    return settings


@pytest.fixture
async def admin_client(aiohttp_client: AiohttpClient, admin_settings: Settings) -> TestClient:
    """An app client, not signed in, over the real factory (fake engine, no retrieval)."""
    client: TestClient = await aiohttp_client(create_app(admin_settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    return client


@pytest.fixture
async def signed_in(admin_client: TestClient) -> AsyncIterator[SignedIn]:
    """``await signed_in("editor1")``: a new client on the same server, signed in as that user; its CSRF
    token is in ``client.csrf``."""
    opened: list[TestClient] = []

    async def make(name: str) -> TestClient:
        client = await signed_in_client(admin_client.server, name)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.session.close()


@pytest.fixture
def admin_server(admin_settings: Settings) -> Iterator[LiveServer]:
    """The real app on a free port for the browser (scripted dialogue), with the users above."""
    server = LiveServer(fake_app(admin_settings, FakeChat())).start()
    yield server
    server.stop()


def sign_in(tab: Any, server: LiveServer, name: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would, and wait for the overview (``tab``: a Playwright page)."""
    tab.goto(server.url + "/admin/sign-in")
    tab.get_by_label("用户名 Name").fill(name)
    tab.get_by_label("密码 Password").fill(password)
    tab.get_by_role("button", name="登录 Sign in").click()
    tab.get_by_role("heading", name="概览 Overview").wait_for()
