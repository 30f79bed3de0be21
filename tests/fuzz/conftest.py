"""The fuzz stack: one real app per module (the factory, a demo archive with a BM25 retriever, the scripted
engine of tests/app/fakes.py) served on loopback from a thread, with an admin signed in (a session cookie and
its CSRF token) and one API token per scope, so every route can be reached with the right credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from app.accounts import SCOPES, Accounts
from app.admin.web import COOKIE
from app.factory import create_app
from archive.demo import seed_demo
from archive.store import Archive
from core.settings import Settings, load_settings
from tests.app.fakes import FakeEngine
from tests.hotline.conftest import make_retriever
from tests.web.fakes import LiveServer

ADMIN, PASSWORD = "fuzz-admin", "correct-horse-fuzz-42"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


@dataclass
class FuzzStack:
    server: LiveServer
    settings: Settings
    archive: Archive
    cookies: dict[str, str]
    csrf: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url


def prepare_home(home: Path) -> tuple[Settings, Archive]:
    settings = load_settings(home)
    settings.paths.ensure()
    archive = Archive(settings.paths.archive_db)
    seed_demo(archive)
    return settings, archive


def sign_in(url: str, name: str = ADMIN, password: str = PASSWORD) -> tuple[dict[str, str], str]:
    """Through the real form: the session cookie and the session's CSRF token."""
    http = requests.Session()
    form = http.get(url + "/admin/sign-in", timeout=30)
    token = CSRF_META.search(form.text)
    assert token, "the sign-in form has no CSRF token"
    done = http.post(url + "/admin/sign-in", data={"name": name, "password": password, "csrf": token.group(1),
                                                    "next": "/admin"}, allow_redirects=False, timeout=30)
    assert done.status_code == 303, done.text
    overview = http.get(url + "/admin", timeout=30)
    csrf = CSRF_META.search(overview.text)
    assert overview.status_code == 200 and csrf
    return {COOKIE: http.cookies[COOKIE]}, csrf.group(1)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    settings, archive = prepare_home(tmp_path_factory.mktemp("fuzz") / "home")
    accounts = Accounts(settings.paths.app_db)
    try:
        accounts.add_user(ADMIN, "admin", PASSWORD)
        tokens = {scope: accounts.add_token(f"fuzz-{scope}", scope) for scope in SCOPES}
    finally:
        accounts.close()
    app = create_app(settings, engine=FakeEngine(), archive=archive,
                     retriever=make_retriever(settings, archive))
    server = LiveServer(app).start()
    try:
        cookies, csrf = sign_in(server.url)
        yield FuzzStack(server, settings, archive, cookies, csrf, tokens)
    finally:
        server.stop()
        archive.close()
