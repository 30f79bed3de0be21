"""Starting a real `civic serve` on a home and waiting until it answers: for the dialogue bench and the tests.

``start_stack(home, out_dir)`` runs ``civic --home HOME serve`` on free ports in its own session and returns a
:class:`Stack` (``.url``, ``.chat()``, ``.health()``, ``.stop()``, ``.diagnosis()``); ``copy_home`` makes a
writable copy of a prepared home; ``snapshot_project`` copies the Rasa project so edits in the working tree do
not make a running stack retrain.  Failures raise :class:`StackFailed` (the tests turn them into pytest
failures).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from civic.supervisor import free_port as pick_port
from core.settings import REPO_ROOT


class StackFailed(RuntimeError):
    """The stack exited or did not become ready; the message holds what to read."""


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
    return pick_port()


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
                raise StackFailed(f"civic serve exited with {self.proc.returncode}:\n{self.diagnosis()}")
            time.sleep(0.5)
        raise StackFailed(f"civic serve not ready after {timeout:.0f} s:\n{self.diagnosis()}")

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


