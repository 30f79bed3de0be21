"""Training the Rasa model, only when its inputs changed.

Rasa 3 has no "nothing changed, keep the old model" shortcut any more: ``rasa train`` with unchanged data
restores every component from its graph cache but still spends ~10 s starting up and writes a new model.
So we keep our own fingerprint: a hash of every training input (config, domain, data, and the files
generated from the archive) plus the engine's version, stored next to the model it produced in
``<home>/models/fingerprint.json``.  Same fingerprint and the model still there: nothing to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from app.curation.store import training_export
from archive.store import Archive
from core import progress
from core.errors import CivicError
from core.settings import REPO_ROOT, Settings
from nlu.generate import TrainingInputs, prepare_training

STAMP_NAME = "fingerprint.json"
KEEP_MODELS = 3

Echo = Callable[[str], None]


class TrainingFailed(CivicError):
    """``rasa train`` exited with an error; the message points at the training log."""


@dataclass
class TrainResult:
    trained: bool
    model: Path
    reason: str
    seconds: float = 0.0


def training_dir(settings: Settings) -> Path:
    """Where archive-generated training files (item names, synonyms, jieba dictionary) are written."""
    return settings.paths.training_dir


def prepare_inputs(settings: Settings, archive: Archive | None = None) -> TrainingInputs:
    """The training inputs: the repo's project plus what nlu.generate derives from the archive."""
    out = training_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    if archive is not None:
        inputs = prepare_training(archive, settings.project_dir, out)
    else:
        with Archive(settings.paths.archive_db) as opened:
            inputs = prepare_training(opened, settings.project_dir, out)
    # the curation loop's activated data (app/curation/store.py), when there is any
    curated = training_export(settings.paths.curation_dir, out)
    return replace(inputs, data=[*inputs.data, curated]) if curated else inputs


def engine_version(settings: Settings) -> str:
    """The installed rasa distribution(s), read from the engine virtualenv without starting Python."""
    venv = Path(settings.rasa_bin).resolve().parent.parent
    names = sorted(p.name for p in venv.glob("lib/python*/site-packages/rasa-*.dist-info"))
    return ",".join(names) or settings.rasa_bin


def fingerprint(settings: Settings, inputs: TrainingInputs) -> str:
    """Hash of the inputs, independent of where the home and the clone live (a copied home keeps its
    model: generated files mention the home's absolute path, e.g. the jieba dictionary folder)."""
    # the training folder first: it may sit inside the project (./var/training)
    roots = [(training_dir(settings).resolve(), b"<training>"), (settings.project_dir.resolve(), b"<proj>")]
    digest = hashlib.sha256(engine_version(settings).encode())
    for path in inputs.files():
        name, content = b"", path.read_bytes()
        for root, placeholder in roots:
            if not name and path.resolve().is_relative_to(root):
                name = placeholder + b"/" + str(path.resolve().relative_to(root)).encode()
            content = content.replace(str(root).encode(), placeholder)
        name = name or str(path).encode()
        digest.update(name + b"\0" + content + b"\0")
    return digest.hexdigest()


def read_stamp(settings: Settings) -> dict[str, str]:
    path = settings.paths.models_dir / STAMP_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current_model(settings: Settings) -> Path | None:
    """The model trained from the current fingerprint's inputs, else the newest one in models_dir."""
    models_dir = settings.paths.models_dir
    stamped = read_stamp(settings).get("model")
    if stamped and (models_dir / stamped).is_file():
        return models_dir / stamped
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def needs_training(settings: Settings, inputs: TrainingInputs) -> tuple[bool, str]:
    stamp = read_stamp(settings)
    model = stamp.get("model")
    if not model or not (settings.paths.models_dir / model).is_file():
        return True, "no trained model"
    if stamp.get("fingerprint") != fingerprint(settings, inputs):
        return True, "training data changed"
    return False, "model up to date"


def rasa_env(settings: Settings) -> dict[str, str]:
    """Environment for any Rasa child: our project importable, quiet, no telemetry, caches in the home."""
    env = dict(os.environ)
    # the project (custom NLU components named in config.yml) and this code base, first on the path
    paths = dict.fromkeys([str(settings.project_dir), str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        # Rasa's graph cache (components restored when their inputs did not change); shareable
        RASA_CACHE_DIRECTORY=env.get("RASA_CACHE_DIRECTORY") or str(settings.home / ".rasa-cache"),
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore::DeprecationWarning,ignore::UserWarning",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def _training_lock(settings: Settings) -> Iterator[None]:
    """One training per home at a time (two `civic serve` on the same home must not race)."""
    models_dir = settings.paths.ensure().models_dir
    with (models_dir / ".train.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# `rasa train` prints "Starting to train component 'TEDPolicy'" and tqdm bars "Epochs:  45%|...| 18/40 [...]"
_COMPONENT = re.compile(rb"Starting to train component '([\w.]+)'")
_EPOCH = re.compile(rb"Epochs:\s*\d*%?[^\r\n]*?(\d+)/(\d+)")
PROGRESS_EVERY = 1.0  # seconds between writes of the progress file
FIRST_TRAINING_S = 150.0  # what a first training is expected to take (bench/TRAINING.md) until one is timed


class ProgressTracker:
    """Reads ``rasa train``'s output as it streams and keeps ``<home>/training/progress.json`` current."""

    def __init__(self, path: Path, reason: str, expected_s: float) -> None:
        self.path = path
        self.expected_s = expected_s
        self.started = time.monotonic()
        self.state = progress.TrainingProgress(started_at=time.time(), reason=reason, pid=os.getpid(),
                                               eta_s=expected_s)
        self._written = 0.0
        self._tail = b""
        self.write(force=True)

    def feed(self, chunk: bytes) -> None:
        text = self._tail + chunk
        self._tail = text[-200:]
        for match in _COMPONENT.finditer(text):
            self.state.stage, self.state.epoch, self.state.epochs = match.group(1).decode(), 0, 0
        epochs = list(_EPOCH.finditer(text))
        if epochs:
            self.state.epoch, self.state.epochs = int(epochs[-1].group(1)), int(epochs[-1].group(2))
        self.write()

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < PROGRESS_EVERY:
            return
        self._written = now
        self.state.eta_s = max(0.0, self.expected_s - (now - self.started))
        progress.write(self.path, self.state)

    def finish(self, ok: bool, reason: str = "") -> None:
        self.state.state = progress.DONE if ok else progress.FAILED
        self.state.eta_s = 0.0 if ok else None
        if reason:
            self.state.reason = reason
        self.write(force=True)


def _stream(proc: subprocess.Popen[bytes], log_path: Path, echo_raw: bool, tracker: ProgressTracker) -> None:
    """Copy the child's output to the training log and, unchanged (progress bars too), to the console."""
    assert proc.stdout is not None
    with log_path.open("ab") as log:
        while chunk := os.read(proc.stdout.fileno(), 65536):
            log.write(chunk)
            tracker.feed(chunk)
            if echo_raw:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()


def _prune(models_dir: Path, keep: Path) -> None:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[KEEP_MODELS:]:
        if old != keep:
            old.unlink(missing_ok=True)


@dataclass
class RasaRun:
    model: Path
    seconds: float
    tracker: ProgressTracker  # finish(True) once the caller has put the model in place


def run_rasa_train(
    settings: Settings,
    inputs: TrainingInputs,
    out_dir: Path,
    progress_path: Path,
    reason: str,
    expected_s: float = FIRST_TRAINING_S,
    *,
    echo: Echo = print,
    stream: bool = True,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    cache_dir: Path | None = None,
) -> RasaRun:
    """``rasa train`` on ``inputs`` into ``out_dir`` with its progress in ``progress_path`` (what `civic
    train` and the curation loop's candidates both run); raises TrainingFailed.  ``cache_dir``: a Rasa
    component cache of its own (two trainings at once must not share one)."""
    paths = settings.paths.ensure()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = paths.logs_dir / "train.log"
    cmd = [
        settings.rasa_bin, "train",
        "--config", str(inputs.config),
        "--domain", str(inputs.domain),
        "--data", *[str(p) for p in inputs.data],
        "--out", str(out_dir),
    ]  # fmt: skip
    echo(f"Training the Rasa model ({reason}); log: {log_path}")
    with log_path.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
    before = set(out_dir.glob("*.tar.gz"))
    tracker = ProgressTracker(progress_path, reason, expected_s)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=paths.root,
            env={**rasa_env(settings), **({"RASA_CACHE_DIRECTORY": str(cache_dir)} if cache_dir else {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops it
        )
    except OSError as exc:
        tracker.finish(False, f"cannot run {settings.rasa_bin}")
        raise TrainingFailed(f"cannot run {settings.rasa_bin}: {exc}; run `make setup`") from exc
    if on_start is not None:
        on_start(proc)
    try:
        _stream(proc, log_path, stream, tracker)
        rc = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait(timeout=30)
        tracker.finish(False, "interrupted")
        raise
    seconds = time.monotonic() - started
    new = sorted(set(out_dir.glob("*.tar.gz")) - before, key=lambda p: p.stat().st_mtime)
    if rc != 0 or not new:
        tracker.finish(False, f"rasa train exited with {rc}; see {log_path}")
        raise TrainingFailed(f"rasa train failed (exit {rc}); see {log_path}")
    return RasaRun(new[-1], seconds, tracker)


def prepare_and_train(settings: Settings, *, demo: bool = True, force: bool = False,
                      echo: Echo = print, stream: bool = True) -> TrainResult:
    """`civic train`: the home prepared (demo corpus on an empty archive, index), then the model trained in
    the foreground when its inputs changed."""
    from civic.home import prepare_home

    prepare_home(settings, demo=demo, echo=echo)
    return train(settings, force=force, echo=echo, stream=stream)


def train(
    settings: Settings,
    *,
    force: bool = False,
    archive: Archive | None = None,
    echo: Echo = print,
    stream: bool = True,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> TrainResult:
    """Train into ``<home>/models`` when the inputs changed (or ``force``); returns what was done.

    ``on_start`` receives the ``rasa train`` process (the supervisor keeps it, to stop it on Ctrl-C).
    Progress goes to ``<home>/training/progress.json`` (core/progress.py) for the app and the console."""
    paths = settings.paths.ensure()
    with _training_lock(settings):
        inputs = prepare_inputs(settings, archive)
        needed, reason = needs_training(settings, inputs)
        if not needed and not force:
            model = current_model(settings)
            assert model is not None
            return TrainResult(False, model, reason)
        reason = "forced" if force and not needed else reason
        fp = fingerprint(settings, inputs)
        expected = float(read_stamp(settings).get("seconds") or FIRST_TRAINING_S)
        run = run_rasa_train(settings, inputs, paths.models_dir, paths.training_progress, reason, expected,
                             echo=echo, stream=stream, on_start=on_start)
        model, seconds = run.model, run.seconds
        stamp = {"fingerprint": fp, "model": model.name, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                 "seconds": round(seconds, 1)}
        (paths.models_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        _prune(paths.models_dir, model)
        run.tracker.finish(True)
        echo(f"Trained {model.name} in {seconds:.1f} s")
        return TrainResult(True, model, reason, seconds)
