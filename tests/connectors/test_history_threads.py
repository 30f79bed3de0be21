"""The chat history is shared by the app's worker threads: concurrent turns must never interleave statements
on its one SQLite connection. Before its lock they did, and failed with "database is locked", "not an
error" or a lost row (this test's load produced over 2,000 such failures in 2,400 turns)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.conversations import Conversations
from connectors.history import History


def test_turns_from_many_threads_at_once_all_land_whole(tmp_path: Path) -> None:
    history = History(tmp_path / "app.db", keep_turns=50)
    other = Conversations(tmp_path / "app.db")  # another store writing to the same file meanwhile
    failures: list[str] = []

    def turns(worker: int) -> None:
        for n in range(150):
            session, key = f"s{worker % 3}", f"k{worker}-{n}"
            try:
                turn = history.begin(session, key, "第几个问题，电话13812345678" * 5)
                assert turn.key == key and "13812345678" not in turn.text
                history.finish(session, key, {"messages": [{"text": "答" * 300}]})
                assert history.recent(session, 50)
                history.set_feedback(session, key, "up")
                other.log("fallback", session, "t")
            except Exception as exc:
                failures.append(repr(exc))

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(turns, range(16)))
        assert failures == []
        assert [history.count(f"s{i}") for i in range(3)] == [50, 50, 50]  # pruned to keep_turns
        assert len(history.feedback_log()) == 16 * 150
    finally:
        history.close()
        other.close()
