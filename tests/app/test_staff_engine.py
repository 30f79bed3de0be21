"""Staff release end to end on the real engine: request_human pauses the bot, staff release, it answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from core.settings import load_settings
from tests.engine_fixtures import Stack, http_json

pytestmark = pytest.mark.engine


def staff(stack: Stack, path: str, payload: dict[str, str] | None = None, token: str | None = None
          ) -> tuple[int, Any]:
    secret = load_settings(stack.home).staff_token if token is None else token
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(stack.url + path, data=data, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_request_human_pauses_until_staff_release_then_the_bot_answers_again(running_stack: Stack) -> None:
    session = "staff-e2e"
    status, asked = running_stack.chat(session, "转人工")
    assert status == 200 and asked["handoff"] is True

    status, paused = running_stack.chat(session, "结婚登记要带什么材料")
    assert status == 200 and paused["handoff"] is True and paused["intent"]["name"] is None
    assert all(not m["citations"] for m in paused["messages"])  # the bot did not answer the question

    assert staff(running_stack, "api/staff/handovers", token="wrong")[0] == 401
    status, listed = staff(running_stack, "api/staff/handovers")
    assert status == 200
    ticket = next(t for t in listed["tickets"] if t["session"] == session)
    assert ticket["paused"] is True
    citizen = [m["text"] for m in ticket["transcript"] if m["role"] == "citizen"]
    assert citizen[-2:] == ["转人工", "结婚登记要带什么材料"]

    assert staff(running_stack, "api/staff/release", {"session": "nobody"})[0] == 404
    status, released = staff(running_stack, "api/staff/release", {"session": session})
    assert status == 200 and released == {"session": session, "ticket": ticket["id"], "released": True}

    status, answered = running_stack.chat(session, "结婚登记要带什么材料")
    assert status == 200 and answered["handoff"] is False
    assert answered["intent"]["name"] == "ask_guide"
    assert answered["messages"][0]["citations"][0]["id"] == "SF-G-001"
    status, _ = http_json(running_stack.url + "api/staff/handovers/" + ticket["id"])
    assert status == 401  # no token, no transcript


def test_a_button_tapped_first_in_the_english_chat_is_answered_in_english(running_stack: Stack) -> None:
    status, english = http_json(running_stack.url + "api/chat",
                                {"session": "lang-e2e-en", "text": "/request_human", "language": "en"})
    assert status == 200 and english["handoff"] is True
    assert english["messages"][0]["text"].startswith("I've passed your conversation to our staff")
    status, chinese = running_stack.chat("lang-e2e-zh", "/request_human")
    assert status == 200 and chinese["messages"][0]["text"].startswith("已为您转接人工客服")
