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

from civic.supervisor import Supervisor, ensure_port_free, http_ok, serve, unhealthy_parts
from civic.train import current_model, train
from core.errors import CivicError
from core.settings import load_settings
from tests.engine_fixtures import CIVIC, Stack, free_port, http_json, start_stack
from tests.serve.conftest import FAKE_RASA


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


def post_chat(stack: Stack, text: str) -> dict[str, object]:
    status, body = http_json(stack.url + "api/chat", {"session": "s1", "text": text})
    assert status == 200, body
    return dict(body)


def test_the_app_answers_while_the_model_trains_then_switches_to_the_dialogue(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RASA_TRAIN_SECONDS", "9")
    stack = start_stack(fake_home, tmp_path, "--no-demo", wait=False)
    try:
        wait_for(lambda: "is answering: " in stack.log(), 120, "the app to answer", stack)
        reply = post_chat(stack, "居住证要带什么材料")
        assert reply["mode"] == "search" and reply["messages"]
        wait_for(lambda: "TEDPolicy epoch" in json.dumps(stack.health()[1]), 60, "training progress", stack)
        status, health = stack.health()
        assert status == 503 and health["answering"] is True and health["engine"]["state"] == "training"
        assert "left" in health["engine"]["detail"]
        wait_for(lambda: "is ready: " in stack.log(), 120, "the dialogue", stack)
        wait_for(lambda: post_chat(stack, "你好")["mode"] == "dialogue", 30, "the switch", stack)
        assert post_chat(stack, "你好")["messages"][0]["text"] == "fake:你好"  # type: ignore[index]
        assert "engine: training the dialogue model" in stack.log()  # the console said what happened
    finally:
        assert stack.stop() == []


def test_a_stale_model_serves_while_the_new_one_trains_then_is_swapped_in(
    fake_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(fake_home)
    old = train(settings, echo=lambda m: None, stream=False).model
    (settings.project_dir / "data" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n    - 早\n', encoding="utf-8")
    monkeypatch.setenv("FAKE_RASA_TRAIN_SECONDS", "3")
    stack = start_stack(fake_home, tmp_path, "--no-demo", wait=False)
    try:
        wait_for(lambda: "is ready: " in stack.log(), 120, "the old model", stack)
        wait_for(lambda: "the engine loaded" in stack.log(), 120, "the swap", stack)
        model = stack.health()[1]["engine"]["model"]
        assert model != old.name and model == current_model(settings).name  # type: ignore[union-attr]
        assert child_pid(fake_home, "engine") is not None and "restart #" not in stack.log()
    finally:
        assert stack.stop() == []


def test_a_relative_home_from_another_directory(project: Path, tmp_path: Path) -> None:
    """The newcomer's `make run` passes `--home var`: everything must land in ./var, whatever the code's
    working directory (Rasa trains and runs with another one)."""
    work = tmp_path / "elsewhere"
    (work / "var").mkdir(parents=True)
    (work / "var" / "civic.toml").write_text(
        f'rasa_bin = "{FAKE_RASA}"\nproject_dir = "{project}"\nembedding_model = "none"\n', encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    argv = [str(CIVIC), "--home", "var", "serve", "--no-demo", "--port", str(port)]
    out = tmp_path / "serve.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(argv, cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    stack = Stack(work / "var", port, 0, proc, out)
    try:
        wait_for(lambda: "is ready: " in stack.log(), 120, "the stack on a relative home", stack)
        assert (work / "var" / "models" / "fingerprint.json").exists()
        assert (work / "var" / "tracker.db").parent == work / "var"
        assert post_chat(stack, "你好")["mode"] == "dialogue"
    finally:
        assert stack.stop() == []
