"""`civic serve`: prepare the home, then run and supervise the app and the Rasa engine, training in the
background.

The app starts as soon as the archive and the index are ready and answers at once: with search answers while
the engine is not ready (``app/standby.py``), with the full dialogue as soon as it is.  The engine starts
with the current model; when the training inputs changed (or there is no model yet) the model is trained in
the background, and when it is done the running engine loads it (``PUT /model``; a restart if that fails),
or starts with it.  The console says what is happening ("engine: training the dialogue model: TEDPolicy
epoch 12/40, ~1 min left").

Each child runs in its own process group (so Ctrl-C in the terminal reaches only the supervisor, which then
stops the children in order) and gets SIGTERM from the kernel if the supervisor itself dies.  A child that
exits is restarted with exponential backoff; stopping sends SIGTERM to each group, then SIGKILL after a
timeout, so no process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import unquote, urlencode, urlsplit

from app.accounts import Accounts
from app.engine_client import load_model
from civic.home import exclusive_lock, instance_lock, prepare_home
from civic.train import TrainResult, current_model, needs_training, prepare_inputs, rasa_env, train
from core import progress
from core.errors import CivicError, ConfigError, EngineUnavailable
from core.pii import mask
from core.settings import REPO_ROOT, Settings

Echo = Callable[[str], None]

STARTUP_TIMEOUT = 300.0  # seconds until the app answers (it loads the index and the embedding model)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
BACKOFF_MAX = 30.0
HEALTH_PERIOD = 2.0  # seconds between health probes once running
STABLE_AFTER = 60.0  # a child that ran this long restarts with the shortest backoff again
PROGRESS_PERIOD = 15.0  # seconds between training progress lines on the console
SWAP_TIMEOUT = 180.0  # seconds the engine may take to load a new model
PR_SET_PDEATHSIG = 1
ROLES = ("all", "engine", "app")  # `civic serve --role`: both processes, or one replica (docs/scaling.md)
SCALE_ENDPOINTS = "endpoints.scale.yml"


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


def _health(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def unhealthy_parts(body: str) -> str:
    """A one-line summary of what /healthz says is wrong."""
    data = _health(body)
    if not data:
        return body[:200] or "app not answering"
    parts = []
    for name in ("engine", "archive", "index"):
        part = data.get(name) or {}
        if not (part.get("healthy") if name == "engine" else part.get("ok")):
            reason = str(part.get("detail") or part.get("error") or "not ok")
            parts.append(f"{name}: {reason[:120]}")
    return "; ".join(parts) or "unknown"


def endpoint_profile(settings: Settings) -> tuple[Path, dict[str, str]]:
    """The engine's endpoints file and the variables it reads: tracker.db in the home and in-memory locks,
    or, when the settings name both shared stores, the scale-out profile (PostgreSQL tracker store, Redis
    lock store) with the URLs split into parts and the passwords from the secrets."""
    tracker, locks = settings.tracker_store_url, settings.lock_store_url
    if not tracker and not locks:
        return settings.project_dir / "endpoints.yml", {"CIVIC_TRACKER_DB": str(settings.paths.tracker_db)}
    if not (tracker and locks):
        raise ConfigError("tracker_store_url and lock_store_url go together: engine replicas sharing a "
                          "tracker store need a shared lock store (docs/scaling.md)")
    db, redis = urlsplit(tracker), urlsplit(locks)
    if db.scheme not in ("postgresql", "postgres") or not db.hostname or not db.path.strip("/"):
        raise ConfigError(f"tracker_store_url must be postgresql://USER@HOST:PORT/DB, not {tracker!r}")
    if redis.scheme != "redis" or not redis.hostname:
        raise ConfigError(f"lock_store_url must be redis://HOST:PORT/DB, not {locks!r}")
    if db.password is not None or redis.password is not None:
        raise ConfigError("no password in tracker_store_url / lock_store_url: put it in secrets.toml as "
                          "tracker_store_password / lock_store_password (or CIVIC_TRACKER_STORE_PASSWORD, "
                          "CIVIC_LOCK_STORE_PASSWORD)")
    profile = settings.project_dir / SCALE_ENDPOINTS
    if not profile.exists():  # a snapshot of the Rasa project made before the profile existed
        profile = REPO_ROOT / SCALE_ENDPOINTS
    return profile, {
        "CIVIC_TRACKER_DIALECT": "postgresql",
        "CIVIC_TRACKER_HOST": db.hostname,
        "CIVIC_TRACKER_PORT": str(db.port or 5432),
        "CIVIC_TRACKER_NAME": unquote(db.path.strip("/")),
        "CIVIC_TRACKER_USER": unquote(db.username or ""),
        "CIVIC_TRACKER_PASSWORD": settings.tracker_store_password,
        "CIVIC_LOCK_HOST": redis.hostname,
        "CIVIC_LOCK_PORT": str(redis.port or 6379),
        "CIVIC_LOCK_DB": redis.path.strip("/") or "1",
        "CIVIC_LOCK_PASSWORD": settings.lock_store_password,
    }


def engine_launcher(rasa_bin: str) -> list[str]:
    """How to start Rasa: ``python -m engine.launch`` of the virtualenv ``rasa_bin`` lives in (it reads the
    token from ``CIVIC_RASA_AUTH_TOKEN``); a stand-alone ``rasa_bin`` (a test's fake) is run itself."""
    python = Path(rasa_bin).parent / "python"
    return [str(python), "-m", "engine.launch"] if python.exists() else [rasa_bin]


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


class BackgroundTraining:
    """``civic train``'s work on a thread of the supervisor, stoppable (its ``rasa train`` is a process)."""

    def __init__(self, settings: Settings, echo: Echo) -> None:
        self.settings = settings
        self.echo = echo
        self.result: TrainResult | None = None
        self.error: BaseException | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="training", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    def _run(self) -> None:
        try:
            self.result = train(self.settings, echo=self.echo, stream=False, on_start=self._keep)
        except BaseException as exc:  # reported by the supervisor; the app goes on answering
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        self._thread.join(timeout=STOP_TIMEOUT + 30)


class Supervisor:
    def __init__(self, settings: Settings, *, echo: Echo = print, role: str = "all") -> None:
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "app" and not settings.engine_url:
            raise ConfigError("an app replica (--role app) needs engine_url: the engines' one URL")
        self.settings = settings
        self.echo = echo
        self.role = role
        self.paths = settings.paths.ensure()
        self.stopping = False
        self.children: list[Child] = []
        self.engine: Child | None = None
        self.training: BackgroundTraining | None = None
        # an engine replica is its own engine, whatever engine_url (the replicas' shared URL) says
        self.external_engine = role != "engine" and bool(settings.engine_url)
        self.engine_port = settings.engine_port or free_port()
        local = f"http://127.0.0.1:{self.engine_port}"
        self.engine_url = local if role == "engine" else settings.engine_url or local
        check_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
        self.url = f"http://{check_host}:{settings.port}/"
        # a replica's state file is its own (the curation CLI reads serve.json for the engine's URL)
        self.state_file = self.paths.root / state_name(settings, role, "json")
        self._serve_log = (self.paths.logs_dir / "serve.log").open("a", encoding="utf-8")
        self._say_lock = threading.Lock()
        self.answering = False
        self.ready = False  # /healthz says healthy now
        self.was_ready = False  # ... and did once (a later recovery is "healthy again")

    # -- output ---------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        message = mask(message)  # serve.log, like every log of the home, holds no personal data
        with self._say_lock:
            self.echo(message)
            self._serve_log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
            self._serve_log.flush()

    # -- children -------------------------------------------------------------------------------------
    def engine_child(self) -> Child:
        model = current_model(self.settings)
        if model is None:
            raise CivicError(f"no trained model in {self.paths.models_dir}; run `civic train`")
        env = rasa_env(self.settings)
        endpoints, stores = endpoint_profile(self.settings)
        env.update(stores)
        env["CIVIC_ACTION_URL"] = self.settings.action_url or f"{self.url}webhook"
        project = self.settings.project_dir
        # the token goes through the environment, never the command line (/proc/*/cmdline, ps): the
        # launcher in the engine's virtualenv hands it to Rasa inside the process (engine/launch.py)
        env["CIVIC_RASA_AUTH_TOKEN"] = self.settings.engine_token
        argv = [
            *engine_launcher(self.settings.rasa_bin), "run", "--enable-api",
            "-i", "127.0.0.1", "-p", str(self.engine_port),
            "-m", str(model.parent),  # the newest model: a restart picks up `civic train`'s
            "--endpoints", str(endpoints),
            "--credentials", str(project / "credentials.yml"),
        ]  # fmt: skip
        log = "rasa.log" if self.role == "all" else f"rasa-{self.engine_port}.log"
        return Child("engine", argv, env, self.paths.logs_dir / log, self.paths.root)

    def app_child(self) -> Child:
        env = dict(os.environ)
        env.update(
            CIVIC_HOME=str(self.paths.root),
            CIVIC_ENGINE_URL=self.engine_url,
            CIVIC_ENGINE_TOKEN=self.settings.engine_token,
            PYTHONUNBUFFERED="1",
        )
        script = Path(sys.executable).parent / "civic"
        inline = [sys.executable, "-c", "from civic.cli import main; main()"]
        launcher = [str(script)] if script.exists() else inline
        argv = [*launcher, "app-worker"]
        argv += ["--host", self.settings.host, "--port", str(self.settings.port)]
        log = "app.log" if self.role == "all" else f"app-{self.settings.port}.log"
        return Child("app", argv, env, self.paths.logs_dir / log, REPO_ROOT)

    def start_engine(self) -> None:
        self.engine = self.engine_child()
        self.children.insert(0, self.engine)
        self.engine.start()
        self.say(f"started engine (pid {self.engine.pid}); log: {self.engine.log_path}")
        self.write_state()

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "url": self.url,
            "engine_url": self.engine_url,
            "children": {c.name: c.pid for c in self.children},
            "restarts": {c.name: c.restarts for c in self.children},
            "training": bool(self.training and self.training.running),
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state_file)

    # -- training ---------------------------------------------------------------------------------------
    def plan_engine(self) -> None:
        """Start the engine with the model there is; train in the background when it is missing or stale."""
        model = current_model(self.settings)
        needed, reason = needs_training(self.settings, prepare_inputs(self.settings))
        if model is not None and not needed:
            self.say(f"Rasa model {model.name}: {reason}")
        if model is not None:
            self.start_engine()
        if needed:
            self.say(f"Training the dialogue model in the background ({reason}); "
                     f"{'the current model serves' if model else 'search answers'} until it is done")
            self.training = BackgroundTraining(self.settings, self.say)
            self.training.start()
            self.write_state()

    def check_training(self) -> None:
        training = self.training
        if training is None or training.running:
            return
        self.training = None
        if training.error is not None:
            fallback = "the previous model goes on serving" if self.engine else "answering with search only"
            self.say(f"training failed: {training.error}; {fallback}")
        elif training.result is not None:
            result = training.result
            self.say(f"dialogue model {result.model.name} trained in {result.seconds:.0f} s")
            if self.engine is None:
                self.start_engine()
            elif not self.swap_model(result.model):
                self.say("restarting the engine with the new model")
                self.engine.stop()
                self.engine.restarts += 1
                self.engine.start()
        self.write_state()

    def swap_model(self, model: Path) -> bool:
        """Load ``model`` into the running engine (``PUT /model``); False when that did not work."""
        try:
            asyncio.run(load_model(self.engine_url, self.settings.engine_token, model, SWAP_TIMEOUT))
        except EngineUnavailable as exc:
            self.say(f"the engine could not load {model.name}: {exc}")
            return False
        self.say(f"the engine loaded {model.name}")
        return True

    def observe_engine(self, started: float) -> bool:
        """An engine replica: announce when its /status names a loaded model (and when that stops);
        False when it never did within STARTUP_TIMEOUT."""
        query = urlencode({"token": self.settings.engine_token})
        ok, body = http_ok(f"{self.engine_url}/status?{query}", timeout=5)
        model = str(_health(body).get("model_file") or "") if ok else ""
        if model and not self.ready:
            self.ready = self.answering = True
            again = self.was_ready
            self.was_ready = True
            self.say("engine healthy again" if again
                     else f"Civic Assistant engine is ready: {self.engine_url}")
            if not again:
                self.say(f"  model {Path(model).name}, actions at {self.settings.action_url or self.url}, "
                         f"dialogue ready after {time.monotonic() - started:.1f} s; press Ctrl-C to stop")
        elif self.ready and not model:
            self.ready = False
            self.say(f"engine degraded: {body[:200]}")
        return self.answering or time.monotonic() - started < STARTUP_TIMEOUT

    def report_training(self) -> None:
        found = progress.read(self.paths.training_progress)
        if found is not None and found.is_running():
            self.say(f"engine: {found.describe()}")

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

    def observe(self, started: float) -> bool:
        """Probe /healthz; announce when the app starts answering, when the dialogue is ready, and when it
        degrades or recovers.  False when the app never started answering within STARTUP_TIMEOUT."""
        ok, body = http_ok(self.url + "healthz", timeout=5)
        data = _health(body)
        answering = bool(data.get("answering"))
        if answering and not self.answering:
            self.answering = True
            if not ok:
                self.say(f"Civic Assistant is answering: {self.url} (search answers until the dialogue "
                         f"engine is ready; {unhealthy_parts(body)})")
        if ok and not self.ready and self.was_ready:
            self.ready = True
            self.say("healthy again")
        elif ok and not self.ready:
            self.ready = self.was_ready = True
            self.say(f"Civic Assistant is ready: {self.url}")
            self.say(f"  engine {self.engine_url}, home {self.paths.root}, logs {self.paths.logs_dir}")
            self.say(f"dialogue ready after {time.monotonic() - started:.1f} s; press Ctrl-C to stop")
        elif self.ready and not ok:
            self.ready = False
            self.say(f"degraded: {unhealthy_parts(body)}")
        return self.answering or time.monotonic() - started < STARTUP_TIMEOUT

    def stop(self) -> None:
        if self.training is not None:
            self.training.stop()
        for child in reversed(self.children):  # app first, so it stops sending turns to the engine
            child.signal_group(signal.SIGTERM)
        for child in reversed(self.children):
            child.stop()
        self.say("stopped")
        self.state_file.unlink(missing_ok=True)
        self._serve_log.close()

    def run(self) -> int:
        if self.role != "engine":
            ensure_port_free(self.settings.host, self.settings.port, "app")
        if not self.external_engine:
            ensure_port_free("127.0.0.1", self.engine_port, "engine")
            if not Path(self.settings.rasa_bin).exists():
                raise CivicError(f"the Rasa engine is not installed ({self.settings.rasa_bin}); "
                                 "run `make setup`")
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        started = time.monotonic()
        try:
            app = None
            if self.role != "engine":
                app = self.app_child()
                self.children.append(app)
                app.start()
                self.say(f"started app (pid {app.pid}); log: {app.log_path}")
                self.write_state()
            if self.external_engine:
                self.say(f"Using the engine at {self.engine_url}; not training a local model")
            elif self.role == "engine":  # replicas never train: `civic train` once, then start them
                self.start_engine()  # (no model: engine_child says to run `civic train`)
            else:
                self.plan_engine()
            next_probe = next_progress = 0.0
            while not self.stopping:
                self.supervise_once()
                self.check_training()
                now = time.monotonic()
                if now >= next_probe:
                    if not (self.observe(started) if app else self.observe_engine(started)):
                        child = app or self.engine
                        self.say(f"the {child.name if child else 'engine'} did not answer within "
                                 f"{STARTUP_TIMEOUT:.0f} s (log: {child.log_path if child else '-'})")
                        return 1
                    next_probe = now + (HEALTH_PERIOD if self.answering else 0.5)
                if self.training is not None and now >= next_progress:
                    if next_progress:
                        self.report_training()
                    next_progress = now + PROGRESS_PERIOD
                self._sleep(0.5)
            return 0
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def state_name(settings: Settings, role: str, ext: str) -> str:
    """serve.json / serve.lock for `civic serve`; serve.engine-PORT.json, serve.app-PORT.lock, ... for a
    replica (several run on one home)."""
    if role == "all":
        return f"serve.{ext}"
    return f"serve.{role}-{settings.engine_port if role == 'engine' else settings.port}.{ext}"


def replica_lock(settings: Settings, role: str) -> IO[str]:
    """One replica per role and port on a home (``instance_lock`` is one `civic serve` per home)."""
    return exclusive_lock(settings, state_name(settings, role, "lock"),
                          f"an {role} replica on that port already runs on {settings.home}")


def serve_replica(settings: Settings, role: str, *, echo: Echo = print) -> int:
    """One engine or app replica on a prepared home (docs/scaling.md): no seeding, indexing or training,
    which replicas starting together would race on; `civic train` prepares the home once."""
    if role == "engine" and not settings.engine_port:
        raise ConfigError("an engine replica needs --engine-port (nginx's upstream names it)")
    lock = replica_lock(settings, role)
    try:
        return Supervisor(settings, echo=echo, role=role).run()
    finally:
        lock.close()


def serve(settings: Settings, *, demo: bool = True, echo: Echo = print, role: str = "all") -> int:
    """Prepare the home (seed, index), then run and supervise until stopped, training in the background.
    ``role`` "engine" or "app" runs one replica instead (``serve_replica``)."""
    if role != "all":
        return serve_replica(settings, role, echo=echo)
    lock = instance_lock(settings)
    # SIGTERM or SIGINT while seeding or indexing unwinds like Ctrl-C
    # (set explicitly: a shell's background job starts with SIGINT ignored)
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = time.monotonic()
        prepare_home(settings, demo=demo, echo=echo)
        echo(f"home ready in {time.monotonic() - started:.1f} s")
        echo(console_hint(settings))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        return Supervisor(settings, echo=echo).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        lock.close()


def console_hint(settings: Settings) -> str:
    """Where the admin console is, and how to create its first user when there is none yet."""
    accounts = Accounts(settings.paths.app_db)
    try:
        has_users = bool(accounts.list_users())
    finally:
        accounts.close()
    where = f"admin console: http://{settings.host}:{settings.port}/admin"
    if has_users:
        return where
    return f"{where} (no users yet: .venv/bin/civic --home {settings.home} users add NAME --role admin)"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
