"""`civic serve`: prepare the home, then supervise two children, the Rasa engine and the app.

Each child runs in its own process group (so Ctrl-C in the terminal reaches only the supervisor, which
then stops the children in order) and gets SIGTERM from the kernel if the supervisor itself dies.  A child
that exits is restarted with exponential backoff; stopping sends SIGTERM to each group, then SIGKILL
after a timeout, so no process is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from archive.demo import is_seeded, seed_demo
from archive.store import Archive
from civic.config import REPO_ROOT, Settings
from civic.errors import CivicError
from civic.train import current_model, rasa_env, train
from retrieval.service import INDEX_FORMAT, Retriever

Echo = Callable[[str], None]

STARTUP_TIMEOUT = 600.0  # seconds until both children are healthy (Rasa loads TensorFlow and the model)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
BACKOFF_MAX = 30.0
HEALTH_PERIOD = 10.0  # seconds between health probes once running
STABLE_AFTER = 60.0  # a child that ran this long restarts with the shortest backoff again
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            msg = f"{what} port {port} on {host} is in use ({exc.strerror}); pick another"
            raise CivicError(msg) from exc


def http_ok(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """GET ``url``: (status is 200, body or reason)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200, resp.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return False, exc.read(4096).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        return False, str(exc)


def prepare_home(settings: Settings, *, demo: bool = True, echo: Echo = print) -> None:
    """Make the home servable: demo corpus on an empty archive, a current index, a current model.

    Each step checks first and does nothing when its output is up to date, so a second start is quick.
    """
    paths = settings.paths.ensure()
    with Archive(paths.archive_db) as archive:
        if demo and archive.count() == 0 and not is_seeded(archive):
            echo("Seeding the demo corpus of 示范市 into the empty archive ...")
            totals = seed_demo(archive, max_body_chars=settings.max_body_chars).to_dict()["totals"]
            echo(f"  demo corpus: {totals}")
        retriever = Retriever(settings, archive)  # cheap: models load only when needed
        store = retriever.store
        if store.current() is None or store.read_meta().get("format") != INDEX_FORMAT:
            echo("Building the retrieval index ...")
            echo(f"  index: {retriever.rebuild()}")
        elif archive.changes_since(store.change_seq())[1]:  # checked without loading any model
            echo(f"  index refreshed: {retriever.refresh()} changed documents")
        else:
            echo("Retrieval index: up to date")
        if settings.engine_url:  # someone else runs the engine (and trains its model)
            echo(f"Using the engine at {settings.engine_url}; not training a local model")
            return
        result = train(settings, archive=archive, echo=echo)
        if not result.trained:
            echo(f"Rasa model {result.model.name}: {result.reason}")


def unhealthy_parts(body: str) -> str:
    """A one-line summary of what /healthz says is wrong."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200] or "app not answering"
    parts = []
    for name in ("engine", "archive", "index"):
        part = data.get(name) or {}
        if not (part.get("healthy") if name == "engine" else part.get("ok")):
            reason = str(part.get("error") or part.get("detail") or "not ok")
            parts.append(f"{name}: {reason[:120]}")
    return "; ".join(parts) or "unknown"


@dataclass
class Child:
    """One supervised process: how to start it, where it logs, and its restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        if self._log is None or self._log.closed:
            self._log = self.log_path.open("ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"\n=== {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def exited(self) -> int | None:
        """The exit code once the child has died, None while it runs (or was never started)."""
        return self.proc.poll() if self.proc else None

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        if self.proc is not None:
            self.signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.proc.wait(timeout=timeout)
            self.signal_group(signal.SIGKILL)  # anything the child left in its group
        if self._log is not None:
            self._log.close()


class Supervisor:
    def __init__(self, settings: Settings, *, echo: Echo = print) -> None:
        self.settings = settings
        self.echo = echo
        self.paths = settings.paths.ensure()
        self.stopping = False
        self.children: list[Child] = []
        self.external_engine = bool(settings.engine_url)
        self.engine_port = settings.engine_port or free_port()
        self.engine_url = settings.engine_url or f"http://127.0.0.1:{self.engine_port}"
        check_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
        self.url = f"http://{check_host}:{settings.port}/"
        self.state_file = self.paths.root / "serve.json"
        self._serve_log = (self.paths.logs_dir / "serve.log").open("a", encoding="utf-8")

    # -- output ---------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        self.echo(message)
        self._serve_log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
        self._serve_log.flush()

    # -- children -------------------------------------------------------------------------------------
    def engine_child(self) -> Child:
        model = current_model(self.settings)
        if model is None:
            raise CivicError(f"no trained model in {self.paths.models_dir}; run `civic train`")
        env = rasa_env(self.settings)
        env["CIVIC_TRACKER_DB"] = str(self.paths.tracker_db.resolve())
        env["CIVIC_ACTION_URL"] = f"{self.url}webhook"
        project = self.settings.project_dir
        argv = [
            self.settings.rasa_bin, "run",
            "--enable-api", f"--auth-token={self.settings.engine_token}",
            "-i", "127.0.0.1", "-p", str(self.engine_port),
            "-m", str(model.parent.resolve()),  # the newest model: a restart picks up `civic train`'s
            "--endpoints", str(project / "endpoints.yml"),
            "--credentials", str(project / "credentials.yml"),
        ]  # fmt: skip
        return Child("engine", argv, env, self.paths.logs_dir / "rasa.log", self.paths.root)

    def app_child(self) -> Child:
        env = dict(os.environ)
        env.update(
            CIVIC_HOME=str(self.paths.root.resolve()),
            CIVIC_ENGINE_URL=self.engine_url,
            CIVIC_ENGINE_TOKEN=self.settings.engine_token,
            PYTHONUNBUFFERED="1",
        )
        script = Path(sys.executable).parent / "civic"
        inline = [sys.executable, "-c", "from civic.cli import main; main()"]
        launcher = [str(script)] if script.exists() else inline
        argv = [*launcher, "app-worker"]
        argv += ["--host", self.settings.host, "--port", str(self.settings.port)]
        return Child("app", argv, env, self.paths.logs_dir / "app.log", REPO_ROOT)

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "url": self.url,
            "engine_url": self.engine_url,
            "children": {c.name: c.pid for c in self.children},
            "restarts": {c.name: c.restarts for c in self.children},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state_file)

    # -- lifecycle ------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:  # second Ctrl-C: do not wait for graceful shutdown
            for child in self.children:
                child.signal_group(signal.SIGKILL)
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    def supervise_once(self) -> None:
        """Restart children that died, each on its own backoff schedule."""
        now = time.monotonic()
        for child in self.children:
            rc = child.exited()
            if rc is None:
                continue
            if child.restart_at is None:
                ran = now - child.started_at
                child.backoff = 1.0 if ran > STABLE_AFTER else min(child.backoff * 2, BACKOFF_MAX)
                child.restart_at = now + child.backoff
                self.say(
                    f"{child.name} (pid {child.pid}) exited with code {rc} after {ran:.0f} s; "
                    f"restarting in {child.backoff:.0f} s (log: {child.log_path})"
                )
            elif now >= child.restart_at:
                child.restarts += 1
                child.start()
                self.say(f"{child.name} restarted (pid {child.pid}, restart #{child.restarts})")
                self.write_state()

    def wait_healthy(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        body, next_note = "", time.monotonic() + 20
        while not self.stopping and time.monotonic() < deadline:
            ok, body = http_ok(self.url + "healthz")
            if ok:
                return True
            if time.monotonic() >= next_note:  # so a slow start does not look like a hang
                self.say(f"still starting ({unhealthy_parts(body)})")
                next_note = time.monotonic() + 20
            self.supervise_once()
            self._sleep(0.5)
        if not self.stopping:
            self.say(f"not healthy after {STARTUP_TIMEOUT:.0f} s: {unhealthy_parts(body)}")
        return False

    def watch(self) -> None:
        """Until stopped: restart dead children, and log when /healthz turns degraded or healthy again."""
        healthy, next_probe = True, 0.0
        while not self.stopping:
            self.supervise_once()
            if time.monotonic() >= next_probe:
                ok, body = http_ok(self.url + "healthz", timeout=5)
                if ok != healthy:
                    self.say("healthy again" if ok else f"degraded: {unhealthy_parts(body)}")
                healthy, next_probe = ok, time.monotonic() + HEALTH_PERIOD
            self._sleep(0.5)

    def stop(self) -> None:
        for child in reversed(self.children):  # app first, so it stops sending turns to the engine
            child.signal_group(signal.SIGTERM)
        for child in reversed(self.children):
            child.stop()
        self.say("stopped")
        self.state_file.unlink(missing_ok=True)
        self._serve_log.close()

    def run(self) -> int:
        ensure_port_free(self.settings.host, self.settings.port, "app")
        if not self.external_engine:
            ensure_port_free("127.0.0.1", self.engine_port, "engine")
            self.children.append(self.engine_child())
        self.children.append(self.app_child())
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        started = time.monotonic()
        try:
            for child in self.children:
                child.start()
                self.say(f"started {child.name} (pid {child.pid}); log: {child.log_path}")
            self.write_state()
            if not self.wait_healthy():
                return 0 if self.stopping else 1
            self.say(f"Civic Assistant is ready: {self.url}")
            self.say(f"  engine {self.engine_url}, home {self.paths.root}, logs {self.paths.logs_dir}")
            self.say(f"healthy after {time.monotonic() - started:.1f} s; press Ctrl-C to stop")
            self.watch()
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _instance_lock(settings: Settings) -> Any:
    """Hold an exclusive lock on the home for the life of the server (one `civic serve` per home)."""
    path = settings.paths.ensure().root / "serve.lock"
    fh = path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise CivicError(f"another `civic serve` is already running on {settings.home}") from exc
    return fh


def serve(settings: Settings, *, demo: bool = True, echo: Echo = print) -> int:
    """Prepare the home (seed, index, train as needed), then run and supervise until stopped."""
    lock = _instance_lock(settings)
    # SIGTERM or SIGINT while seeding or training unwinds like Ctrl-C, so `rasa train` is stopped too
    # (set explicitly: a shell's background job starts with SIGINT ignored)
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = time.monotonic()
        prepare_home(settings, demo=demo, echo=echo)
        echo(f"home ready in {time.monotonic() - started:.1f} s")
        return Supervisor(settings, echo=echo).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.close()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
