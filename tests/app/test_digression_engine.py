"""A question in the middle of the status form, on the real engine: answered with its source, then the form
asks its pending question again; nothing is filled and no failed verification is counted."""

from __future__ import annotations

import sqlite3

import pytest

from tests.engine_fixtures import Stack

pytestmark = pytest.mark.engine


def failed_attempts(stack: Stack, session: str) -> int:
    with sqlite3.connect(stack.home / "app.db") as db:
        row = db.execute("SELECT count(*) FROM status_attempts WHERE session = ? AND ok = 0", [session])
        return int(row.fetchone()[0])


def test_guide_question_while_the_form_waits_is_answered_then_the_form_asks_again(
    running_stack: Stack,
) -> None:
    session = "digress-e2e"
    _, asked = running_stack.chat(session, "查询办件进度")
    assert asked["intent"]["name"] == "ask_status" and "办件编号" in asked["messages"][-1]["text"]

    _, digression = running_stack.chat(session, "办居住证要带什么")
    assert digression["intent"]["name"] == "ask_guide"
    answer, again = digression["messages"][0], digression["messages"][-1]
    assert answer["card"]["checklist"] and answer["citations"][0]["id"] == "SF-G-007"
    assert "办件编号" in again["text"]  # the form's question, asked again

    _, phone = running_stack.chat(session, "HD202610120003")
    assert "后4位" in phone["messages"][-1]["text"]
    _, second = running_stack.chat(session, "结婚登记多少钱")
    assert second["messages"][0]["citations"][0]["id"] == "SF-G-001"
    assert "后4位" in second["messages"][-1]["text"]
    assert failed_attempts(running_stack, session) == 0

    _, shown = running_stack.chat(session, "9187")
    assert shown["messages"][0]["card"]["app_no"] == "HD202610120003"
