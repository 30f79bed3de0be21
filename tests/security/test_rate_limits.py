"""The sign-in POST is limited per client IP (app/ratelimits.py): over the limit, 429 with Retry-After and
a reason, before the password is checked; another client IP (behind a trusted proxy) is not affected; 0
switches the limit off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from app.accounts import Accounts
from app.admin.web import SIGN_IN
from app.factory import create_app
from core.settings import load_settings
from tests.admin.conftest import PASSWORD, csrf_of
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any


async def _attempt(client: TestClient, ip: str, name: str = "nobody", password: str = "wrong-pass-1") -> Any:
    form = await client.get(SIGN_IN)
    return await client.post(SIGN_IN, headers={"X-Forwarded-For": ip}, allow_redirects=False,
                             data={"name": name, "password": password,
                                   "csrf": csrf_of(await form.text()), "next": "/admin"})


async def test_sign_in_attempts_per_ip_are_limited(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", trusted_proxies="127.0.0.1", rate_sign_in_per_minute=3)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    statuses = [(await _attempt(client, "203.0.113.1", f"nobody{n}")).status for n in range(3)]
    assert 429 not in statuses
    refused = await _attempt(client, "203.0.113.1")
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "too many sign-in attempts" in (await refused.json())["error"]
    assert (await _attempt(client, "203.0.113.2")).status != 429  # another citizen's address


async def test_zero_switches_the_limit_off(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", rate_sign_in_per_minute=0)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    # right passwords: the lock-out (5 failures per account and per address) is not what is tested here
    accounts = Accounts(settings.paths.app_db)
    try:
        accounts.add_user("admin9", "admin", PASSWORD)
    finally:
        accounts.close()
    statuses = [(await _attempt(client, "x", "admin9", PASSWORD)).status for _ in range(12)]
    assert statuses == [303] * 12  # more than the default limit (10), all let through


async def test_api_chat_is_limited_per_address_and_per_session(aiohttp_client: AiohttpClient,
                                                               tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", trusted_proxies="127.0.0.1", rate_ip_per_minute=5,
                             rate_session_per_minute=3)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))

    async def say(session: str, ip: str) -> Any:
        return await client.post("/api/chat", json={"session": session, "text": "你好"},
                                 headers={"X-Forwarded-For": ip})

    assert [(await say("s-one", "203.0.113.7")).status for _ in range(3)] == [200] * 3
    over = await say("s-one", "203.0.113.7")  # the session's fourth message in a minute
    assert over.status == 429 and int(over.headers["Retry-After"]) >= 1
    assert "this conversation" in (await over.json())["error"]
    assert (await say("s-two", "203.0.113.7")).status == 200  # another session, the address's 5th
    over_ip = await say("s-three", "203.0.113.7")  # the address's 6th request
    assert over_ip.status == 429 and "this address" in (await over_ip.json())["error"]
    assert (await say("s-four", "203.0.113.8")).status == 200  # another address


async def test_public_pages_are_limited_per_address_but_not_their_static_files(
        aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", trusted_proxies="127.0.0.1", rate_ip_per_minute=2)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    ip = {"X-Forwarded-For": "198.51.100.4"}
    assert [(await client.get("/api/openapi.json", headers=ip)).status for _ in range(2)] == [200, 200]
    refused = await client.get("/catalog", headers=ip)
    assert refused.status == 429 and "Retry-After" in refused.headers
    assert (await client.get("/catalog", headers={"X-Forwarded-For": "198.51.100.5"})).status != 429
    static = await client.get("/catalog/static/catalog.css", headers=ip)
    assert static.status != 429
