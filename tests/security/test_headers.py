"""Security headers on every page, no inline script or style in any page, HSTS and Secure cookies over TLS
(direct, or through a proxy the settings trust), and a proxy's headers ignored from any other peer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.admin.web import COOKIE, PRE_COOKIE, SIGN_IN
from app.factory import create_app
from core.settings import Settings, load_settings
from tests.admin.conftest import PASSWORD, create_users, csrf_of
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any
PAGES = ("/", "/catalog", SIGN_IN, "/public/abolished")
VIA_TLS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", re.I)


async def _client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    create_users(settings)
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    return client


@pytest.fixture
async def plain(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    return await _client(aiohttp_client, settings)


@pytest.fixture
async def proxied(aiohttp_client: AiohttpClient, tmp_path: Path) -> TestClient:
    settings = load_settings(tmp_path / "proxied-home", trusted_proxies="127.0.0.1, 10.0.0.0/8")
    return await _client(aiohttp_client, settings)


async def test_every_page_carries_the_headers_and_no_inline_script(plain: TestClient) -> None:
    for path in PAGES:
        response = await plain.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/html", path
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path
        assert "Strict-Transport-Security" not in response.headers, path  # plain HTTP: no HSTS
        html = await response.text()
        assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html))
        assert not INLINE_STYLE.search(html), (path, INLINE_STYLE.search(html))


async def test_tls_at_a_trusted_proxy_brings_hsts_and_secure_cookies(proxied: TestClient) -> None:
    form = await proxied.get(SIGN_IN, headers=VIA_TLS_PROXY)
    assert "max-age=" in form.headers["Strict-Transport-Security"]
    pre = form.cookies[PRE_COOKIE]
    assert pre["httponly"] and pre["samesite"] == "Strict" and pre["secure"]
    # the test client speaks plain HTTP, so its jar keeps the Secure cookie to itself: sent by hand
    headers = {**VIA_TLS_PROXY, "Cookie": f"{PRE_COOKIE}={pre.value}"}
    response = await proxied.post(SIGN_IN, headers=headers, allow_redirects=False, data={
        "name": "admin1", "password": PASSWORD, "csrf": csrf_of(await form.text()), "next": "/admin"})
    assert response.status == 303
    session = response.cookies[COOKIE]
    assert session["httponly"] and session["samesite"] == "Strict" and session["secure"]
    api = await proxied.get("/healthz", headers=VIA_TLS_PROXY)  # not a page: HSTS all the same
    assert "Strict-Transport-Security" in api.headers


async def test_a_proxy_header_from_an_untrusted_peer_is_ignored(plain: TestClient) -> None:
    form = await plain.get(SIGN_IN, headers=VIA_TLS_PROXY)
    assert "Strict-Transport-Security" not in form.headers
    pre = form.cookies[PRE_COOKIE]
    assert pre["httponly"] and pre["samesite"] == "Strict" and not pre["secure"]


async def test_the_client_ip_behind_a_trusted_proxy_is_the_forwarded_one(proxied: TestClient,
                                                                         plain: TestClient) -> None:
    # the audit log records who signed in from where: the forwarded client, only via a trusted proxy
    for client, hops, expected in ((proxied, "203.0.113.5, 10.1.2.3", "203.0.113.5"),
                                   (plain, "203.0.113.6", "127.0.0.1")):
        form = await client.get(SIGN_IN)
        response = await client.post(SIGN_IN, headers={"X-Forwarded-For": hops}, allow_redirects=False,
                                      data={"name": "admin1", "password": PASSWORD,
                                            "csrf": csrf_of(await form.text()), "next": "/admin"})
        assert response.status == 303
        audit = await client.get("/admin/audit")
        assert audit.status == 200
        assert expected in await audit.text(), expected
