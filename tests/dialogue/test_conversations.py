"""app.db: tickets, pauses, the curation log and the status-verification lock (real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.conversations import LOCK_SECONDS, Conversations
from core.errors import InvalidInput, NotFound


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def test_ticket_ids_count_per_kind_and_day(tmp_path: Path) -> None:
    store = Conversations(tmp_path / "app.db", clock=Clock())
    a = store.open_ticket("complaint", "s1", "态度差")
    b = store.open_ticket("complaint", "s2", "排队久")
    c = store.open_ticket("suggestion", "s1", "周末开门")
    assert a.id.endswith("0001") and b.id.endswith("0002") and c.id.startswith("S")
    with pytest.raises(InvalidInput):
        store.open_ticket("praise", "s1", "好")
    with pytest.raises(NotFound):
        store.get_ticket("C000")


def test_state_survives_reopening(tmp_path: Path) -> None:
    first = Conversations(tmp_path / "app.db")
    ticket = first.handover("s1", "转人工", [])
    first.close()
    second = Conversations(tmp_path / "app.db")
    assert second.paused_ticket("s1") == ticket.id
    assert second.handover("s1", "再次转人工", []).id == ticket.id  # one open hand-over per session
    assert second.release("s1") is True and second.release("s1") is False


def test_lock_after_three_failures_then_expiry(tmp_path: Path) -> None:
    clock = Clock()
    store = Conversations(tmp_path / "app.db", clock=clock)
    assert store.record_attempt("s", "HD1", False).remaining == 2
    assert store.record_attempt("s", "HD1", False).remaining == 1
    third = store.record_attempt("s", "HD1", False)
    assert third.locked and store.locked_for("s", "HD1") == LOCK_SECONDS
    assert store.locked_for("other", "HD1") == 0 and store.locked_for("s", "HD2") == 0
    clock.now += LOCK_SECONDS + 1
    assert store.locked_for("s", "HD1") == 0
    assert store.record_attempt("s", "HD1", False).remaining == 2  # a fresh count after the lock
    assert len(store.attempts("s")) == 4
    assert len(store.list_log("status_attempt")) == 4


def test_success_resets_the_count_and_verification_is_taken_once(tmp_path: Path) -> None:
    clock = Clock()
    store = Conversations(tmp_path / "app.db", clock=clock)
    store.record_attempt("s", "HD1", False)
    store.record_attempt("s", "HD1", False)
    clock.now += 1
    assert store.record_attempt("s", "HD1", True).ok
    clock.now += 1
    assert store.record_attempt("s", "HD1", False).remaining == 2
    store.record_attempt("s", "HD1", True)
    assert store.take_verification("s", "HD1") is True
    assert store.take_verification("s", "HD1") is False
