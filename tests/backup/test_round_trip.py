"""Issue 16 part 5's done-when: a backup taken while a real stack serves chats, restored into a new home and
served by a second stack, holds the same documents and versions, gives the same answers, uses the same model
and neither retrains nor re-embeds.

Stable parts compared of an answer: every message's text and its citations' (id, title, version).  Not
compared: the session id and timestamps (different sessions on the two stacks).
Run: CIVIC_TEST_TRAINED_HOME=/tmp/th13 .venv/bin/python -m pytest -m engine -s tests/backup/test_round_trip.py
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.engine_fixtures import CIVIC, Stack

pytestmark = pytest.mark.engine

VECTORS = "SELECT count(*) FROM vectors"  # the passage vector cache (retrieval/embed_cache.py)
QUESTIONS_FILE = Path(__file__).resolve().parents[1] / "acceptance" / "unseen_messages.yml"


def questions() -> list[str]:
    """20 varied citizen messages (guides, policies, status, Traditional script, English): every other one."""
    messages = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))["messages"]
    picked = [str(m["text"]) for m in messages][::2][:20]
    assert len(picked) == 20
    return picked


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


def stable(reply: dict[str, Any]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    return [(str(m.get("text") or ""),
             [(c.get("id"), c.get("title"), c.get("version")) for c in m.get("citations") or []])
            for m in reply["messages"]]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backup_while_serving_restores_an_identical_stack(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    first = stack_factory()
    errors: list[str] = []
    sent = [0]
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                status, reply = first.chat(f"load-{n % 5}", "居住证快到期了怎么续签")
                if status != 200:
                    errors.append(f"{status}: {str(reply)[:200]}")
            except OSError as exc:
                errors.append(repr(exc))
            sent[0] += 1

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        time.sleep(2)
        before = sent[0]
        dest = tmp_path / "bk"
        started = time.monotonic()
        done = subprocess.run([str(CIVIC), "--home", str(first.home), "backup", str(dest), "--no-progress"],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        during = sent[0] - before
        took = time.monotonic() - started
        time.sleep(1)
    finally:
        stop.set()
        worker.join(timeout=90)
    assert not errors, f"the chat load got errors during the backup: {errors[:5]}"
    assert during > 0, "no chat was sent while the backup ran"
    print(f"BACKUP-MEASURE backup while serving: {took:.1f} s, {during} chats meanwhile, 0 errors")

    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    kinds = {f["path"]: f["kind"] for f in manifest["files"]}
    for db in ("archive.db", "app.db", "tracker.db", "index/embeddings.db"):
        if (first.home / db).exists():
            assert kinds.get(db) == "sqlite", db  # through SQLite's online backup, not a byte copy
    assert "app.db" in kinds and "secrets.toml" not in kinds

    restored = tmp_path / "restored"
    done = subprocess.run([str(CIVIC), "restore", str(dest), str(restored), "--no-progress"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    models_before = sorted(p.name for p in (restored / "models").glob("*.tar.gz"))
    gens_before = sorted(p.name for p in (restored / "index").glob("gen-*"))
    vectors_before = rows(restored / "index" / "embeddings.db", VECTORS)
    current_before = (restored / "index" / "CURRENT").read_text(encoding="utf-8")
    second = stack_factory(home=restored)

    # the same documents and every version
    for sql in ("SELECT * FROM documents ORDER BY id", "SELECT * FROM versions ORDER BY 1, 2"):
        assert rows(first.home / "archive.db", sql) == rows(restored / "archive.db", sql), sql
    assert rows(restored / "archive.db", "SELECT count(*) FROM versions")[0][0] > 0

    # the same active model file
    active = first.home / "models"
    newest = max(active.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    assert models_before == [newest.name]
    assert sha256(newest) == sha256(restored / "models" / newest.name)

    # the same answers to 20 questions
    for i, question in enumerate(questions()):
        s1, r1 = first.chat(f"cmp-a-{i}", question)
        s2, r2 = second.chat(f"cmp-b-{i}", question)
        assert s1 == s2 == 200, (r1, r2)
        assert stable(r1) == stable(r2), question
        assert r1["messages"], question

    # neither retrained nor re-embedded nor rebuilt the index
    log = second.log()
    assert "Training the Rasa model" not in log, log[-2000:]
    assert sorted(p.name for p in (restored / "models").glob("*.tar.gz")) == models_before
    assert sorted(p.name for p in (restored / "index").glob("gen-*")) == gens_before
    assert rows(restored / "index" / "embeddings.db", VECTORS) == vectors_before
    assert vectors_before[0][0] > 0
    assert (restored / "index" / "CURRENT").read_text(encoding="utf-8") == current_before
