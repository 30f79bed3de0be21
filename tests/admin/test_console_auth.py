"""Signing in and out, lock-out, CSRF, the users/tokens/audit pages, through the real app over HTTP."""

from __future__ import annotations

import sqlite3

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient
from yarl import URL

from app.keys import AUDIT
from core.settings import Settings
from tests.admin.conftest import PASSWORD, SignedIn, csrf_of, sign_in_client


async def test_the_console_sends_a_stranger_to_the_sign_in_page_and_back_after(
        admin_client: TestClient) -> None:
    response = await admin_client.get("/admin/users?x=1", allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert location.path == "/admin/sign-in" and location.query["next"] == "/admin/users?x=1"
    form = await admin_client.get(response.headers["Location"])
    html = await form.text()
    assert 'name="next" value="/admin/users?x=1"' in html
    signed = await admin_client.post("/admin/sign-in", data={
        "name": "admin1", "password": PASSWORD, "csrf": csrf_of(html), "next": "/admin/users?x=1"},
        allow_redirects=False)
    assert signed.status == 303 and signed.headers["Location"] == "/admin/users?x=1"
    cookie = signed.headers["Set-Cookie"]
    assert "civic_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    users = await admin_client.get("/admin/users")
    assert users.status == 200 and "reviewer2" in await users.text()


async def test_next_never_leaves_the_console(admin_client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/admin", "/elsewhere"):
        admin_client.session.cookie_jar.clear()
        html = await (await admin_client.get("/admin/sign-in")).text()
        response = await admin_client.post("/admin/sign-in", data={
            "name": "editor1", "password": PASSWORD, "csrf": csrf_of(html), "next": target},
            allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/admin"


async def test_a_wrong_password_and_then_the_lock_out_are_told_plainly(admin_client: TestClient) -> None:
    html = await (await admin_client.get("/admin/sign-in")).text()
    token = csrf_of(html)
    for _ in range(5):
        wrong = await admin_client.post("/admin/sign-in", data={"name": "editor1", "password": "nope-nope-1",
                                                               "csrf": token})
        assert wrong.status == 401
        assert "the name or the password is wrong" in await wrong.text()
    locked = await admin_client.post("/admin/sign-in", data={"name": "editor1", "password": PASSWORD,
                                                            "csrf": token})
    assert locked.status == 429
    assert "too many failed sign-ins; try again in 5 minutes" in await locked.text()
    rows = admin_client.app[AUDIT].query(actor="editor1")
    assert [r.action for r in rows][:2] == ["sign_in_locked", "sign_in_failed"]


async def test_the_sign_in_form_itself_needs_its_csrf_token(admin_client: TestClient) -> None:
    await admin_client.get("/admin/sign-in")
    response = await admin_client.post("/admin/sign-in", data={"name": "admin1", "password": PASSWORD})
    assert response.status == 403 and "CSRF" in await response.text()


async def test_a_state_change_without_the_sessions_csrf_token_is_refused(signed_in: SignedIn) -> None:
    admin = await signed_in("admin1")
    data = {"name": "newbie", "role": "staff", "password": "a-long-secret-9"}
    assert (await admin.post("/admin/users", data=data)).status == 403
    assert (await admin.post("/admin/users", data={**data, "csrf": "forged"})).status == 403
    ok = await admin.post("/admin/users", data={**data, "csrf": admin.csrf})  # type: ignore[attr-defined]
    assert ok.status == 200 and "newbie" in await ok.text()
    # a header works too (what the pages' scripts send)
    again = await admin.post("/admin/users", data={**data, "name": "newbie2"},
                             headers={"X-CSRF-Token": admin.csrf})  # type: ignore[attr-defined]
    assert again.status == 200


async def test_signing_out_revokes_the_session_on_the_server(admin_client: TestClient) -> None:
    client = TestClient(admin_client.server, cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    try:
        csrf = await sign_in_client(client, "staff1")
        stolen = {c.key: c.value for c in client.session.cookie_jar}["civic_session"]
        out = await client.post("/admin/sign-out", data={"csrf": csrf}, allow_redirects=False)
        assert out.status == 303
        # the cookie a thief copied before sign-out is dead: the server's row is revoked
        replay = await admin_client.get("/admin", cookies={"civic_session": stolen}, allow_redirects=False)
        assert replay.status == 303 and replay.headers["Location"].startswith("/admin/sign-in")
        forged = await admin_client.get("/admin", cookies={"civic_session": stolen[:-2] + "00"},
                                        allow_redirects=False)
        assert forged.status == 303
    finally:
        await client.session.close()


async def test_admins_manage_users_and_every_change_is_audited(signed_in: SignedIn) -> None:
    admin = await signed_in("admin1")
    csrf = admin.csrf  # type: ignore[attr-defined]
    assert (await admin.post("/admin/users/editor2", data={"do": "role", "role": "reviewer",
                                                           "csrf": csrf})).status == 200
    assert (await admin.post("/admin/users/staff1", data={"do": "disable", "csrf": csrf})).status == 200
    short = await admin.post("/admin/users/editor1", data={"do": "reset", "password": "short", "csrf": csrf})
    assert short.status == 400 and "10 to 256 characters" in await short.text()
    self_disable = await admin.post("/admin/users/admin1", data={"do": "disable", "csrf": csrf})
    assert self_disable.status == 400
    page = await (await admin.get("/admin/audit?actor=admin1")).text()
    assert "user_role" in page and "user_disable" in page and "sign_in" in page
    csv_text = await (await admin.get("/admin/audit.csv?action=user_role")).text()
    assert csv_text.startswith("\ufeffid,at,actor,role,action,target")
    lines = csv_text.strip().splitlines()
    assert len(lines) == 2 and ",admin1,admin,user_role,editor2," in lines[1]
    bad = await admin.get("/admin/audit?since=yesterday")
    assert bad.status == 400 and "date like 2026-12-01" in await bad.text()


async def test_the_disabled_user_cannot_sign_in(signed_in: SignedIn, admin_client: TestClient) -> None:
    admin = await signed_in("admin1")
    await admin.post("/admin/users/editor1", data={"do": "disable", "csrf": admin.csrf})  # type: ignore[attr-defined]
    html = await (await admin_client.get("/admin/sign-in")).text()
    response = await admin_client.post("/admin/sign-in", data={"name": "editor1", "password": PASSWORD,
                                                              "csrf": csrf_of(html)})
    assert response.status == 401


async def test_a_new_token_is_shown_once_then_only_its_name(signed_in: SignedIn) -> None:
    admin = await signed_in("admin1")
    made = await (await admin.post("/admin/tokens", data={"name": "ccc", "scope": "hotline",
                                                          "csrf": admin.csrf})).text()  # type: ignore[attr-defined]
    assert "civ_" in made
    later = await (await admin.get("/admin/tokens")).text()
    assert "ccc" in later and "civ_" not in later


def test_audit_rows_cannot_be_changed_or_deleted_even_by_sql(admin_settings: Settings) -> None:
    from app.audit import AuditLog

    log = AuditLog(admin_settings.paths.app_db)
    row_id = log.record("admin1", "admin", "user_add", "x", None, {"name": "x"}, "127.0.0.1")
    db = sqlite3.connect(admin_settings.paths.app_db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'someone' WHERE id = ?", [row_id])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    db.close()
    assert [r.actor for r in log.query()] == ["admin1"]
    assert not [name for name in dir(log) if name.startswith(("update", "delete", "remove", "edit"))]
    log.close()


async def test_a_strangers_upload_is_refused_before_its_body_is_read(admin_client: TestClient) -> None:
    from aiohttp import FormData

    form = FormData()
    form.add_field("csrf", "guess")
    form.add_field("files", b"x" * (2 * 1024 * 1024), filename="big.jsonl")
    response = await admin_client.post("/admin/documents/upload", data=form)
    assert response.status == 403 and "CSRF" in await response.text()
