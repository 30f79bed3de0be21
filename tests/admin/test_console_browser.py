"""The console in Chromium at 360 px: signing in, a locked-out sign-in, keyboard-only use, an admin adding a
user, and the audit log showing what happened."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import PASSWORD, sign_in
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.browser


def test_sign_in_then_sign_out(page: Any, admin_server: LiveServer) -> None:
    page.goto(admin_server.url + "/admin/users")
    # a stranger lands on the sign-in form and comes back to the page asked for
    page.get_by_role("heading", name="登录 Sign in").wait_for()
    page.get_by_label("用户名 Name").fill("admin1")
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.get_by_role("heading", name="用户 Users").wait_for()
    assert page.url.endswith("/admin/users")
    nav = page.get_by_role("navigation", name="管理后台 Console")
    assert nav.get_by_role("link", name="审计 Audit log").is_visible()
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_role("button", name="退出 Sign out").click()
    page.get_by_role("heading", name="登录 Sign in").wait_for()
    page.goto(admin_server.url + "/admin/users")
    page.get_by_role("heading", name="登录 Sign in").wait_for()
    assert page.errors == []


def test_a_locked_out_sign_in_says_when_to_try_again(page: Any, admin_server: LiveServer) -> None:
    page.goto(admin_server.url + "/admin/sign-in")
    for _ in range(5):
        page.get_by_label("用户名 Name").fill("editor1")
        page.get_by_label("密码 Password").fill("not-the-password")
        page.get_by_role("button", name="登录 Sign in").click()
        page.get_by_role("alert").filter(has_text="the name or the password is wrong").wait_for()
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    alert = page.get_by_role("alert")
    alert.filter(has_text="too many failed sign-ins").wait_for()
    assert "try again in 5 minutes" in alert.inner_text()
    assert page.get_by_role("heading", name="登录 Sign in").is_visible()


def test_an_admin_adds_a_user_by_keyboard_and_the_audit_log_shows_it(page: Any,
                                                                       admin_server: LiveServer) -> None:
    sign_in(page, admin_server, "admin1")
    page.goto(admin_server.url + "/admin/users")
    page.get_by_label("用户名 Name").focus()
    page.keyboard.type("wang")
    page.keyboard.press("Tab")
    page.keyboard.press("End")  # the last role: staff
    page.keyboard.press("Tab")
    page.keyboard.type("a-long-secret-7")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="user wang added").wait_for()
    assert page.get_by_role("row", name="wang").get_by_role("cell").first.inner_text() == "staff"
    page.get_by_role("navigation", name="管理后台 Console").get_by_role("link", name="审计 Audit log").click()
    page.get_by_role("heading", name="审计日志 Audit log").wait_for()
    rows = page.get_by_role("row").filter(has_text="user_add")
    assert rows.count() == 1 and "wang" in rows.inner_text()
    assert page.errors == []
