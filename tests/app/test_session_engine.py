"""A long conversation on the real engine: its session is compacted between turns, the service in context
and the earlier lines of the transcript survive it."""

from __future__ import annotations

import sqlite3
import time

import pytest

from core.settings import load_settings
from tests.app.test_staff_engine import staff
from tests.engine_fixtures import Stack

pytestmark = pytest.mark.engine


def session_events(stack: Stack, session: str) -> tuple[int, int]:
    """(events in the engine's current session, session starts) for ``session`` in tracker.db."""
    with sqlite3.connect(stack.home / "tracker.db") as db:
        rows = db.execute("SELECT type_name FROM events WHERE sender_id = ? ORDER BY id",
                          [session]).fetchall()
    kinds = [r[0] for r in rows]
    starts = [i for i, kind in enumerate(kinds) if kind == "session_started"]
    return len(kinds) - (starts[-1] if starts else 0), len(starts)


def wait_for_compaction(stack: Stack, session: str, starts_before: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        size, starts = session_events(stack, session)
        if starts > starts_before:
            return size
        time.sleep(0.2)
    pytest.fail(f"no compaction of {session} within {timeout:.0f} s: {session_events(stack, session)}")


def test_a_long_conversation_is_compacted_and_keeps_its_context(running_stack: Stack) -> None:
    session = "long-e2e"
    limit = load_settings(running_stack.home).max_session_events
    _, first = running_stack.chat(session, "办居住证要带什么")
    assert first["messages"][0]["citations"][0]["id"] == "SF-G-007"
    _, starts = session_events(running_stack, session)
    for i in range(60):
        size, _ = session_events(running_stack, session)
        if size >= limit:
            break
        status, reply = running_stack.chat(session, "你好" if i % 2 else "谢谢")
        assert status == 200 and reply["messages"]
    else:
        pytest.fail(f"the session never reached {limit} events")
    running_stack.chat(session, "你好")  # the turn that starts with a long session triggers compaction
    size = wait_for_compaction(running_stack, session, starts)
    assert size < 20, size

    _, fees = running_stack.chat(session, "那要多少钱")  # names no service: the one carried over
    assert fees["intent"]["name"] == "ask_guide"
    assert fees["messages"][0]["citations"][0]["id"] == "SF-G-007"

    _, handed = running_stack.chat(session, "转人工")
    assert handed["handoff"] is True
    status, listed = staff(running_stack, "api/staff/handovers")
    ticket = next(t for t in listed["tickets"] if t["session"] == session)
    citizen = [m["text"] for m in ticket["transcript"] if m["role"] == "citizen"]
    assert citizen[-2:] == ["那要多少钱", "转人工"] and "谢谢" in citizen[:-2]  # lines from before compaction
    assert staff(running_stack, "api/staff/release", {"session": session})[0] == 200
