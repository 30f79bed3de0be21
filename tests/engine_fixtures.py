"""Fixtures that need the Rasa engine: a trained home and a running `civic serve` stack.

Registered from tests/conftest.py (``pytest_plugins``), so any test can ask for them:

- ``trained_home``: a data directory seeded with the demo corpus, its retrieval index built and the Rasa
  model trained, once per test session.  Treat it as read-only; ``copy_home`` makes a writable copy.
- ``running_stack``: ``civic serve`` on free ports against a copy of ``trained_home``, once per session;
  yields a ``Stack`` (``.url`` is the app's base URL).  At teardown it is stopped with SIGINT and the
  fixture asserts that no process it started is left.
- ``stack_factory``: start extra stacks inside one test (they are stopped at the end of the test).

Tests using them should be marked ``@pytest.mark.engine``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from core.settings import REPO_ROOT, Settings, load_settings

START_TIMEOUT = 420.0  # a cold stack on a busy 2-core machine: Rasa loads TensorFlow and the model
STOP_TIMEOUT = 60.0
CIVIC = Path(sys.executable).parent / "civic"
# runtime files of one server that a copied home must not inherit
_NOT_COPIED = {"serve.lock", "serve.json", "logs", "tracker.db"}


def copy_home(src: Path, dst: Path) -> Path:
    """A writable copy of a prepared home (archive, index, models), without another server's state."""
    shutil.copytree(
        src, dst, ignore=lambda d, names: [n for n in names if Path(d) == src and n in _NOT_COPIED]
    )
    return dst


PROJECT_FILES = ("config.yml", "domain.yml", "domain", "data", "endpoints.yml", "credentials.yml")


def snapshot_project(src: Path, dst: Path) -> Path:
    """Copy the Rasa project files (config, domain, data, endpoints, credentials) to ``dst``."""
    dst.mkdir(parents=True)
    for name in PROJECT_FILES:
        path = src / name
        if path.is_dir():
            shutil.copytree(path, dst / name)
        elif path.exists():
            shutil.copy2(path, dst / name)
    return dst


def free_port() -> int:
    from civic.supervisor import free_port as pick

    return pick()


def http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 30) -> tuple[int, Any]:
    """GET (or POST ``payload`` as JSON): (status, decoded JSON body)."""
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Stack:
    """One running `civic serve` started by the fixtures."""

    home: Path
    port: int
    engine_port: int
    proc: subprocess.Popen[bytes]
    output: Path
    started_s: float = 0.0
    seen: set[int] = field(default_factory=set)  # every pid observed under the supervisor

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "serve.json").read_text(encoding="utf-8")))

    def descendants(self) -> list[psutil.Process]:
        try:
            procs = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen.update(p.pid for p in procs)
        return list(procs)

    def health(self) -> tuple[int, Any]:
        return http_json(self.url + "healthz", timeout=10)

    def chat(self, session: str, text: str) -> tuple[int, Any]:
        return http_json(self.url + "api/chat", {"session": session, "text": text}, timeout=60)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            self.descendants()
            if "is ready: " in self.log():
                self.started_s = time.monotonic() - started
                return
            if self.proc.poll() is not None:
                pytest.fail(f"civic serve exited with {self.proc.returncode}:\n{self.diagnosis()}")
            time.sleep(0.5)
        pytest.fail(f"civic serve not ready after {timeout:.0f} s:\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """What to read when a stack misbehaves: its output, /healthz and the children's log tails."""
        try:
            health = str(self.health()[1])[:1500]
        except OSError as exc:
            health = f"not answering: {exc}"
        tails = []
        for name in ("rasa.log", "app.log"):
            path = self.home / "logs" / name
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else "(none)"
            tails.append(f"--- {name}\n{text[-2000:]}")
        return "\n".join([self.log()[-2000:], f"--- /healthz\n{health}", *tails])

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> list[psutil.Process]:
        """Stop the supervisor with ``sig``; returns the processes it left behind (killed afterwards)."""
        self.descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        left = []
        for pid in self.seen:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(proc)
            except psutil.NoSuchProcess:
                continue
        for proc in left:
            proc.kill()
        return left


def start_stack(home: Path, out_dir: Path, *extra: str, wait: bool = True) -> Stack:
    port, engine_port = free_port(), free_port()
    output = out_dir / f"serve-{port}.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    argv = [str(CIVIC), "--home", str(home), "serve", "--port", str(port), "--engine-port", str(engine_port)]
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, *extra], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    stack = Stack(home, port, engine_port, proc, output)
    if wait:
        try:
            stack.wait_ready()
        except BaseException:
            stack.stop()
            raise
    return stack


def _require_engine() -> None:
    rasa = Settings().rasa_bin
    if not Path(rasa).exists():
        pytest.skip(f"the engine virtualenv is missing ({rasa}); run `make setup`")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the demo corpus, the retrieval index and a trained model (built once per session)."""
    _require_engine()
    from civic.home import prepare_home

    # CIVIC_TEST_TRAINED_HOME=DIR keeps the trained home between sessions (iterating on engine tests):
    # built there the first time, brought up to date (usually a no-op) afterwards
    kept = os.environ.get("CIVIC_TEST_TRAINED_HOME")
    if kept and (Path(kept) / "home" / "civic.toml").exists():
        home = Path(kept) / "home"
        prepare_home(load_settings(home), demo=True, echo=print)
        return home
    base = Path(kept) if kept else tmp_path_factory.mktemp("trained")
    home = base / "home"
    home.mkdir(parents=True)
    # train and serve from a snapshot of the Rasa project, so edits in the working tree during the session
    # do not make later stacks retrain; stacks on copies of this home inherit it through civic.toml
    project = snapshot_project(REPO_ROOT, base / "project")
    (home / "civic.toml").write_text(f'project_dir = "{project}"\n', encoding="utf-8")
    # share Rasa's component cache across test sessions: unchanged components are restored, not retrained
    os.environ.setdefault("RASA_CACHE_DIRECTORY", str(REPO_ROOT / ".rasa" / "cache"))
    prepare_home(load_settings(home), demo=True, echo=print)
    return home


@pytest.fixture(scope="session")
def running_stack(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`civic serve` on free ports against a copy of ``trained_home``; stopped (and checked) at the end."""
    base = tmp_path_factory.mktemp("stack")
    stack = start_stack(copy_home(trained_home, base / "home"), base)
    yield stack
    left = stack.stop()
    assert not left, f"processes left behind by civic serve: {left}"


@pytest.fixture
def stack_factory(trained_home: Path, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start more stacks inside one test: ``stack_factory()`` on a fresh copy of ``trained_home``."""
    stacks: list[Stack] = []

    def start(*extra: str, home: Path | None = None, wait: bool = True) -> Stack:
        n = len(stacks)
        target = home or copy_home(trained_home, tmp_path / f"home{n}")
        stacks.append(start_stack(target, tmp_path, *extra, wait=wait))
        return stacks[-1]

    yield start
    left = [proc for stack in stacks for proc in stack.stop()]
    assert not left, f"processes left behind by civic serve: {left}"
