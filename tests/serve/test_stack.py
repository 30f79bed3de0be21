"""End to end with the real engine: `civic serve` on a trained home (tests/engine_fixtures.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine_client import RasaClient
from civic.train import train
from core.settings import load_settings
from tests.engine_fixtures import Stack

pytestmark = pytest.mark.engine


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_healthz_reports_everything_healthy(running_stack: Stack) -> None:
    status, body = running_stack.health()
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["engine"]["reachable"] is True
    assert body["engine"]["model"].endswith(".tar.gz")
    assert body["archive"]["ok"] is True
    assert body["archive"]["info"]["documents"]["total"] > 0
    assert body["index"]["ok"] is True


def test_chat_round_trip_with_trained_model(running_stack: Stack) -> None:
    status, body = running_stack.chat("e2e-greet", "你好")
    assert status == 200, body
    assert body["session"] == "e2e-greet"
    assert body["messages"], body
    assert all(m["text"] for m in body["messages"])
    # the conversation is kept in the home's tracker store (endpoints.yml → CIVIC_TRACKER_DB)
    assert (running_stack.home / "tracker.db").stat().st_size > 0


def test_chat_validation_on_the_real_stack(running_stack: Stack) -> None:
    status, body = running_stack.chat("e2e", "办" * 501)
    assert status == 400
    assert "limit is 500" in body["error"]


def test_engine_parse_with_token(running_stack: Stack) -> None:
    settings = load_settings(running_stack.home)
    engine_url = running_stack.state()["engine_url"]

    async def ask() -> tuple[str, str]:
        async with RasaClient(engine_url, settings.engine_token, timeout=30) as engine:
            parsed = await engine.parse("你好")
            async with RasaClient(engine_url, "wrong-token", timeout=30) as stranger:
                denied = await stranger.health()
            return parsed["intent"]["name"], denied.error

    intent, denied = asyncio.run(ask())
    assert intent == "greet"
    assert "token" in denied
    assert engine_url.startswith("http://127.0.0.1:")


def test_second_start_skips_seeding_and_training(running_stack: Stack, trained_home: Path) -> None:
    log = running_stack.log()  # the stack started on a copy of an already prepared home
    assert "Seeding" not in log
    assert "Training the Rasa model" not in log
    assert "model up to date" in log
    model_files = sorted((running_stack.home / "models").glob("*.tar.gz"))
    result = train(load_settings(running_stack.home))
    assert result.trained is False
    assert sorted((running_stack.home / "models").glob("*.tar.gz")) == model_files


def test_two_instances_side_by_side_then_engine_restart_then_sigint(
    running_stack: Stack, stack_factory: Callable[..., Stack]
) -> None:
    second = stack_factory()
    assert second.home != running_stack.home and second.port != running_stack.port
    for stack in (running_stack, second):
        status, body = stack.health()
        assert status == 200, body
        assert stack.chat("side-by-side", "你好")[0] == 200
    assert running_stack.state()["engine_url"] != second.state()["engine_url"]

    # a killed engine is restarted by the supervisor and the stack becomes healthy again
    old_engine = second.state()["children"]["engine"]
    os.kill(old_engine, signal.SIGKILL)
    wait_for(lambda: second.health()[0] == 503, 60, "/healthz to notice the dead engine")
    wait_for(lambda: second.state()["children"]["engine"] != old_engine, 120, "the engine restart")
    wait_for(lambda: second.health()[0] == 200, 420, "the restarted engine to be healthy")
    assert second.state()["restarts"]["engine"] == 1
    assert "engine (pid" in second.log() and "restarting in" in second.log()
    wait_for(lambda: "healthy again" in second.log(), 60, "the supervisor to log the recovery")
    assert "degraded: engine: " in second.log()
    assert second.chat("after-restart", "你好")[0] == 200
    assert running_stack.health()[0] == 200  # the other instance never noticed

    # Ctrl-C: both children stop and nothing is left behind
    children = set(second.state()["children"].values())
    assert len(children) == 2
    left = second.stop(signal.SIGINT)
    assert left == []
    assert second.proc.returncode == 0
    assert not (second.home / "serve.json").exists()
    assert "stopped" in second.log()
