"""Browser fixtures: Debian Chromium driven by Playwright at a phone viewport (never `playwright install`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.web.fakes import FakeChat, LiveServer, fake_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module: Playwright's sync API holds an event loop while it runs, so it
    must be gone before the next module's asyncio tests start."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian Chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        # a fresh temporary profile per launch (Playwright's default), never the user's
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=PHONE, has_touch=True, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    page.errors = []  # uncaught page errors, checked by tests
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def chat() -> FakeChat:
    return FakeChat()


@pytest.fixture
def fake_server(settings: Settings, chat: FakeChat) -> Iterator[LiveServer]:
    """The real app (factory, history, connector) with a scripted dialogue, served on a free port."""
    server = LiveServer(fake_app(settings, chat)).start()
    yield server
    server.stop()
