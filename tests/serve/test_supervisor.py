"""The supervisor against the fake engine (fast): children in their own process groups, a dead child
restarted with backoff, SIGTERM stops everything, one server per home, clear port errors.  The same
paths run against the real engine in test_stack.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from civic.config import load_settings
from civic.errors import CivicError
from civic.serve import Supervisor, ensure_port_free, http_ok, serve, unhealthy_parts
from tests.engine_fixtures import CIVIC, Stack, free_port, start_stack


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.descendants()
        if predicate():
            return
        if stack.proc.poll() is not None:
            pytest.fail(f"civic serve exited early:\n{stack.log()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}:\n{stack.log()[-3000:]}")


def state_of(home: Path) -> dict[str, object]:
    try:
        return dict(json.loads((home / "serve.json").read_text()))
    except (OSError, ValueError):
        return {}


def child_pid(home: Path, name: str) -> int | None:
    children = state_of(home).get("children")
    return children.get(name) if isinstance(children, dict) else None


@pytest.fixture
def fake_stack(fake_home: Path, tmp_path: Path) -> Iterator[Stack]:
    stack = start_stack(fake_home, tmp_path, "--no-demo", wait=False)
    yield stack
    assert stack.stop() == []


def test_children_run_restart_and_stop_cleanly(fake_stack: Stack, fake_home: Path) -> None:
    stack = fake_stack
    settings = load_settings(fake_home)
    engine_status = f"http://127.0.0.1:{stack.engine_port}/status?token={settings.engine_token}"
    wait_for(lambda: http_ok(engine_status)[0], 120, "the engine", stack)
    wait_for(lambda: http_ok(stack.url + "healthz")[1].startswith("{"), 120, "the app", stack)
    rasa_log = (fake_home / "logs" / "rasa.log").read_text()
    assert f"tracker db {(fake_home / 'tracker.db').resolve()}" in rasa_log

    children = state_of(fake_home)["children"]
    assert isinstance(children, dict)
    for pid in children.values():  # each child leads its own process group, apart from the supervisor
        assert psutil.Process(pid).ppid() == stack.proc.pid
        assert os.getpgid(pid) == pid

    psutil.Process(children["app"]).kill()
    wait_for(lambda: child_pid(fake_home, "app") != children["app"], 60, "app restart", stack)
    wait_for(lambda: http_ok(stack.url + "healthz")[1].startswith("{"), 120, "the restarted app", stack)
    assert "app (pid" in stack.log() and "restart #1" in stack.log()

    assert stack.stop(signal.SIGTERM) == []
    assert stack.proc.returncode == 0
    assert not (fake_home / "serve.json").exists()


def test_one_server_per_home(fake_home: Path, tmp_path: Path) -> None:
    first = start_stack(fake_home, tmp_path, "--no-demo", wait=False)
    try:
        wait_for(lambda: bool(state_of(fake_home)), 120, "the first server", first)
        argv = [str(CIVIC), "--home", str(fake_home), "serve", "--no-demo", "--port", str(free_port())]
        second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert "already running" in second.stderr
    finally:
        assert first.stop() == []


def test_port_in_use_is_a_clear_error(fake_home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(CivicError, match=f"app port {port} .* in use"):
            ensure_port_free("127.0.0.1", port, "app")
        settings = load_settings(fake_home).with_overrides(port=port)
        with pytest.raises(CivicError, match="in use"):
            Supervisor(settings).run()


def test_serve_without_model_or_engine_fails_cleanly(fake_home: Path) -> None:
    settings = load_settings(fake_home).with_overrides(rasa_bin=str(fake_home / "missing-rasa"))
    with pytest.raises(CivicError, match="make setup"):
        serve(settings, demo=False, echo=lambda m: None)
    assert not (fake_home / "serve.json").exists()


def test_unhealthy_parts_summarises_healthz() -> None:
    body = json.dumps(
        {
            "engine": {"reachable": False, "healthy": False, "error": "connection refused"},
            "archive": {"ok": True},
            "index": {"ok": False, "detail": "index missing"},
        }
    )
    assert unhealthy_parts(body) == "engine: connection refused; index: index missing"
    assert unhealthy_parts("") == "app not answering"


def test_a_token_that_starts_with_a_dash_reaches_the_engine(fake_home: Path, tmp_path: Path) -> None:
    # homes made before tokens were hex may hold one like "-Xy…": passed as "--auth-token -Xy…" the
    # engine read it as an option and crash-looped
    (fake_home / "secrets.toml").write_text('engine_token = "-leading-dash-token"\n', encoding="utf-8")
    stack = start_stack(fake_home, tmp_path, "--no-demo", wait=False)
    try:
        status = f"http://127.0.0.1:{stack.engine_port}/status?token=-leading-dash-token"
        wait_for(lambda: http_ok(status)[0], 120, "the engine with the dashed token", stack)
        assert "restart #" not in stack.log()
    finally:
        assert stack.stop() == []
