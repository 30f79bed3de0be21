"""The curation loop through /admin/curation in Chromium, on a real stack (engine, trained demo model):
fail → the group in the inbox → Add as examples → Train (the page follows the progress) → the comparison →
Activate (by the admin's override if the gate refuses the candidate) → the message now works → Roll back."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.engine_fixtures import CIVIC, Stack
from tests.web.conftest import browser, context, page  # noqa: F401  (Chromium fixtures)

FAILING = "收到收到"
PASSWORD = "loop-pass-42"
TRAIN_TIMEOUT_MS = 12 * 60 * 1000

pytestmark = [pytest.mark.engine, pytest.mark.browser]


def _intent(stack: Stack, session: str) -> str:
    status, body = stack.chat(session, FAILING)
    assert status == 200 and body["mode"] == "dialogue", body
    return str(body["intent"]["name"])


def _add_user(stack: Stack, name: str, role: str) -> None:
    subprocess.run([str(CIVIC), "--home", str(stack.home), "users", "add", name, "--role", role,
                    "--password-stdin"], input=PASSWORD + "\n", text=True, check=True, capture_output=True,
                   timeout=120)


def _sign_in(tab: Any, stack: Stack, name: str) -> None:
    tab.goto(stack.url + "admin/sign-in?next=/admin/curation")
    tab.get_by_label("用户名 Name").fill(name)
    tab.get_by_label("密码 Password").fill(PASSWORD)
    tab.get_by_role("button", name="登录 Sign in").click()
    tab.get_by_role("heading", name="训练 Curation", exact=True).wait_for()


def test_the_loop_through_the_page(stack_factory: Callable[..., Stack], page: Any,  # noqa: F811
                                   browser: Any, tmp_path: Path) -> None:  # noqa: F811
    stack = stack_factory()
    _add_user(stack, "editor1", "editor")
    _add_user(stack, "admin1", "admin")
    assert _intent(stack, "citizen-1") == "nlu_fallback"
    _sign_in(page, stack, "editor1")
    group = page.get_by_role("region", name=re.compile(FAILING))
    assert group.get_by_role("checkbox", name=FAILING).is_checked()
    group.get_by_label("意图 Intent").select_option("affirm")
    group.get_by_role("button", name="加为示例 Add as examples").click()
    page.get_by_role("status").filter(has_text="Added 1 examples of affirm").wait_for()
    assert page.get_by_role("region", name=re.compile(FAILING)).count() == 0  # left the inbox
    page.get_by_role("button", name="训练候选模型 Train a candidate").click()
    page.get_by_text(re.compile("Training candidate c")).wait_for()
    # the page's script polls the candidate and reloads when it is ready
    page.get_by_role("heading", name="比较 Before and after").wait_for(timeout=TRAIN_TIMEOUT_MS)
    assert page.get_by_role("row", name=re.compile(f"{FAILING} affirm nlu_fallback affirm")).count() == 1
    if os.environ.get("CIVIC_SCREENSHOTS"):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("heading", name="比较 Before and after").scroll_into_view_if_needed()
        page.screenshot(path=os.environ["CIVIC_SCREENSHOTS"] + "/admin-curation.png", full_page=False)
        page.set_viewport_size({"width": 360, "height": 640})
    activate = page.get_by_role("button", name=re.compile("启用候选模型 Activate candidate"))
    if page.get_by_text("Only an admin may activate it anyway.").count():
        # the gate refused it for an editor: the admin overrides (audited as curation_override)
        page.get_by_role("button", name="退出 Sign out").click()
        admin = browser.new_context(viewport={"width": 360, "height": 640}, locale="zh-CN").new_page()
        _sign_in(admin, stack, "admin1")
        admin.get_by_label(re.compile("Activate anyway")).check()
        admin.get_by_role("button", name=re.compile("启用候选模型 Activate candidate")).click()
        admin.get_by_role("status").filter(has_text="is active").wait_for(timeout=300_000)
        tab = admin
        print("\nthe gate refused the candidate for the editor; the admin overrode it")
    else:
        activate.click()
        page.get_by_role("status").filter(has_text="is active").wait_for(timeout=300_000)
        tab = page
        print("\nthe candidate passed the gate; the editor activated it")
    assert _intent(stack, "citizen-2") == "affirm"
    tab.get_by_role("button", name="回滚到上一个模型 Roll back to the previous model").click()
    tab.get_by_role("status").filter(has_text="Rolled back").wait_for(timeout=300_000)
    assert _intent(stack, "citizen-3") == "nlu_fallback"
    assert page.errors == []
