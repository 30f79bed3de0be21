"""What a running training is doing, in one small JSON file in the home, so the app and the console say so.

``civic train`` (civic/train.py) writes it as ``rasa train`` reports progress; ``/healthz`` and the
supervisor's console read it: "training the dialogue model: TEDPolicy epoch 12/40, ~1 min left".  Written
atomically (rename), read without locks: a reader sees the previous or the next state, never half of one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUNNING, DONE, FAILED = "running", "done", "failed"
STALE_AFTER = 120.0  # seconds without an update after which a "running" training is taken for dead


@dataclass
class TrainingProgress:
    state: str = RUNNING  # running | done | failed
    started_at: float = 0.0
    updated_at: float = 0.0
    stage: str = ""  # the component being trained, e.g. "TEDPolicy"
    epoch: int = 0
    epochs: int = 0
    eta_s: float | None = None  # estimated seconds left for the whole training
    reason: str = ""  # why it trains ("training data changed") or why it failed
    pid: int = 0

    def is_running(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.state == RUNNING and now - self.updated_at < STALE_AFTER

    def describe(self) -> str:
        """One line for a person: what is being trained and how long it may take."""
        if self.state == FAILED:
            return f"training failed: {self.reason}" if self.reason else "training failed"
        if self.state == DONE:
            return "training done"
        parts = ["training the dialogue model"]
        if self.stage and self.epochs:
            parts.append(f"{self.stage} epoch {self.epoch}/{self.epochs}")
        elif self.stage:
            parts.append(self.stage)
        line = ": ".join(parts)
        if self.eta_s is not None:
            line += f", {eta_text(self.eta_s)}"
        return line

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "detail": self.describe()}


def eta_text(seconds: float) -> str:
    if seconds < 60:
        return f"~{max(1, round(seconds))} s left"
    return f"~{round(seconds / 60)} min left"


def write(path: Path, progress: TrainingProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    progress.updated_at = time.time()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(progress)), encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> TrainingProgress | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    known = {k: v for k, v in data.items() if k in TrainingProgress.__dataclass_fields__}
    try:
        return TrainingProgress(**known)
    except TypeError:
        return None
