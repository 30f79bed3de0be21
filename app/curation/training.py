"""Candidate models: validate, train in the background, evaluate against the active model, activate, roll
back.

A *candidate* lives in ``<home>/curation/candidates/<id>/``: ``status.json`` (queued → validating →
training (the baseline alongside, when one is needed) → training-baseline (waiting for it) → evaluating →
ready | failed), ``progress.json`` (the running ``rasa train``,
core/progress.py), ``data/`` (its training data), ``model/*.tar.gz`` and ``report.json``.

The held-out split (``SPLIT_EVERY``): one in ten of the project's hand-written NLU examples (by a stable
hash of the example line) and the held-out curated messages (app/curation/store.py) are kept out of the
training of every model the loop trains, and the comparison scores both models on them.  The *baseline*
is the active model when the loop trained it (same split); otherwise — the model `civic train` made saw the
whole data — a baseline is trained once on the same split from the active curated data, and cached.  So the
before/after compares two models that never saw the evaluation messages.  The model activated is the very
candidate that was evaluated (nothing unevaluated reaches the engine); it lacks the held-out tenth, which
the next full `civic train` (the activated curated data included) puts back.

Order of a run (``run_candidate``): ``rasa data validate`` on the candidate's exact inputs first (nothing
unvalidated is trained, let alone activated) → baseline if needed → candidate → both models parse the
evaluation set in the engine's virtualenv (``evaluate_models.py``), and the project's conversation tests
(``<project>/tests/conversations``) run on the candidate → per-intent F1 before/after, the messages whose
intent changed, and the intents that lose more than ``MAX_F1_LOSS`` plus any failed conversation test (each
needs an explicit override at activation, which the caller records with ``audit()``).

How Rasa is run (its virtualenv, environment, ``rasa train``) belongs to ``civic/train.py``; the floors
above app/ hand it in as a ``Rasa`` (``civic/commands/curation_cmds.py``), and the app starts a training as a
``civic curation train`` process of its own (``start_background``), so a training never runs in the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from app.curation.store import (
    EXPORT_NAME,
    CuratedData,
    CurationStore,
    read_active,
    write_active,
    write_export,
)
from core.errors import CivicError, InvalidInput, NotFound
from core.settings import REPO_ROOT, Settings
from nlu.generate import TrainingInputs

SPLIT_EVERY = 10
SPLIT_ID = f"sha1-line-1-in-{SPLIT_EVERY}"
MAX_F1_LOSS = 0.02
RUNNING_STATES = ("queued", "validating", "training", "training-baseline", "evaluating")
STALE_AFTER = 30 * 60  # a candidate whose status has not moved for this long is considered dead
EVALUATOR = Path(__file__).with_name("evaluate_models.py")
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


class CandidateFailed(CivicError):
    """Validation, training or evaluation of a candidate failed; the message says which step and why."""


@dataclass
class Rasa:
    """How to run the engine's tools (built by civic/ from civic/train.py)."""

    rasa_bin: str
    env: dict[str, str]
    prepare: Callable[[], TrainingInputs]  # the regular training inputs (project + archive + active curation)
    # (inputs, out_dir, progress file, reason, a Rasa cache of its own or None) -> the model
    train: Callable[[TrainingInputs, Path, Path, str, Path | None], Path]

    @property
    def python(self) -> str:
        return str(Path(self.rasa_bin).parent / "python")


# -- the held-out split -----------------------------------------------------------------------------------
def is_heldout(line: str) -> bool:
    return int(hashlib.sha1(line.encode("utf-8")).hexdigest()[:8], 16) % SPLIT_EVERY == 0


def plain_text(example: str) -> str:
    """An annotated example as the citizen typed it: ``[居住证](item)要带什么`` → ``居住证要带什么``."""
    return _ANNOTATION.sub(r"\1", example).strip()


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def split_project_data(data_dir: Path, out_dir: Path) -> list[tuple[str, str]]:
    """Copy the project's ``data/`` to ``out_dir`` without the held-out examples; return them as
    ``(text, intent)``.  Rules, stories, synonyms, lookups and regexes are copied whole."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(data_dir, out_dir)
    heldout: list[tuple[str, str]] = []
    for path in sorted(out_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict) or not doc.get("nlu"):
            continue
        for entry in doc["nlu"]:
            if not (isinstance(entry, dict) and "intent" in entry and isinstance(entry.get("examples"), str)):
                continue
            kept = []
            for line in entry["examples"].splitlines():
                example = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if example and is_heldout(example):
                    heldout.append((plain_text(example), str(entry["intent"])))
                elif line.strip():
                    kept.append(line.strip())
            entry["examples"] = _Literal("".join(f"{k}\n" for k in kept))
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return heldout


# -- candidates on disk -------------------------------------------------------------------------------------
class Candidates:
    def __init__(self, curation_dir: Path) -> None:
        self.curation_dir = Path(curation_dir)
        self.root = self.curation_dir / "candidates"

    def path(self, cid: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cid):
            raise InvalidInput(f"not a candidate id: {cid!r}")
        return self.root / cid

    def status(self, cid: str) -> dict[str, Any]:
        try:
            data = json.loads((self.path(cid) / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFound(f"no candidate {cid}") from None
        quiet = time.time() - float(data.get("updated_at", 0))
        if data.get("state") in RUNNING_STATES and quiet > STALE_AFTER:
            data["state"], data["error"] = "failed", "the training process stopped answering"
        pid = int(data.get("pid") or data.get("launcher_pid") or 0)
        if data.get("state") in RUNNING_STATES and pid and not _alive(pid):
            data["state"], data["error"] = "failed", "the training process exited; see logs/curation.log"
        progress = self.path(cid) / "progress.json"
        if data.get("state") in ("training-baseline", "training") and progress.is_file():
            with contextlib.suppress(OSError, ValueError):
                data["progress"] = json.loads(progress.read_text(encoding="utf-8"))
        return data

    def set_status(self, cid: str, **fields: Any) -> dict[str, Any]:
        path = self.path(cid) / "status.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"id": cid, "created_at": time.time()}
        data.update(fields, updated_at=time.time())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)
        return data

    def report(self, cid: str) -> dict[str, Any]:
        try:
            return dict(json.loads((self.path(cid) / "report.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            raise NotFound(f"candidate {cid} has no report yet") from None

    def model(self, cid: str) -> Path:
        models = sorted((self.path(cid) / "model").glob("*.tar.gz"))
        if not models:
            raise NotFound(f"candidate {cid} has no model")
        return models[-1]

    def ids(self) -> list[str]:
        """Candidate ids, newest first (baselines excluded)."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir()
                 if (p / "status.json").is_file() and p.name.startswith("c")]
        return sorted(found, reverse=True)

    def running(self) -> str | None:
        for cid in self.ids():
            if self.status(cid).get("state") in RUNNING_STATES:
                return cid
        return None

    def new(self, version: int, actor: str = "") -> str:
        """A queued candidate for curated ``version``; refused while another one is in progress."""
        busy = self.running()
        if busy is not None:
            raise InvalidInput(f"candidate {busy} is still being trained; wait for it to finish")
        cid = time.strftime("c%Y%m%d-%H%M%S", time.gmtime())
        while self.path(cid).exists():
            cid += "x"
        self.set_status(cid, state="queued", version=version, actor=actor)
        return cid


# -- evaluation ---------------------------------------------------------------------------------------------
def per_intent(gold: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per gold intent (``nlu_fallback`` counts as a wrong answer)."""
    out: dict[str, dict[str, float]] = {}
    for intent in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == intent and p == intent)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != intent and p == intent)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == intent and p != intent)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[intent] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                       "support": tp + fn}
    return out


def compare(evalset: list[tuple[str, str]], before: list[str], after: list[str],
            probes: list[tuple[str, str]], probes_before: list[str], probes_after: list[str],
            max_loss: float = MAX_F1_LOSS) -> dict[str, Any]:
    """The before/after report of a candidate."""
    gold = [intent for _, intent in evalset]
    b, a = per_intent(gold, before), per_intent(gold, after)
    intents = []
    for intent in sorted(b):
        delta = round(a[intent]["f1"] - b[intent]["f1"], 4)
        intents.append({"intent": intent, "support": b[intent]["support"], "before": b[intent]["f1"],
                        "after": a[intent]["f1"], "delta": delta, "regression": delta < -max_loss})
    changed = [
        {"text": text, "expected": intent, "before": pb, "after": pa}
        for (text, intent), pb, pa in zip([*evalset, *probes], [*before, *probes_before],
                                          [*after, *probes_after], strict=True)
        if pb != pa
    ]
    def macro(rows: list[dict[str, Any]], key: str) -> float:
        return round(sum(float(r[key]) for r in rows) / len(rows), 4) if rows else 0.0

    return {
        "intents": intents,
        "macro_f1_before": macro(intents, "before"),
        "macro_f1_after": macro(intents, "after"),
        "accuracy_before": round(sum(g == p for g, p in zip(gold, before, strict=True)) / len(gold), 4)
        if gold else 0.0,
        "accuracy_after": round(sum(g == p for g, p in zip(gold, after, strict=True)) / len(gold), 4)
        if gold else 0.0,
        "regressions": [r["intent"] for r in intents if r["regression"]],
        "max_loss": max_loss,
        "changed": changed,
        "probes": [{"text": t, "expected": i, "before": pb, "after": pa}
                   for (t, i), pb, pa in zip(probes, probes_before, probes_after, strict=True)],
        "evaluated": len(evalset),
    }


def run_evaluator(rasa: Rasa, models: dict[str, Path], texts: list[str],
                  workdir: Path) -> dict[str, list[str]]:
    """Parse ``texts`` with each model in the engine's virtualenv; the predicted intent names per model."""
    spec = workdir / "evaluate-in.json"
    out = workdir / "evaluate-out.json"
    spec.write_text(json.dumps({"models": {k: str(v) for k, v in models.items()}, "texts": texts},
                               ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run([rasa.python, str(EVALUATOR), str(spec), str(out)], env=rasa.env, cwd=workdir,
                          capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise CandidateFailed(f"evaluation failed: {(proc.stderr or proc.stdout)[-800:]}")
    data = json.loads(out.read_text(encoding="utf-8"))
    return {name: [str(p["intent"]) for p in data[name]] for name in models}


# -- a candidate's run -------------------------------------------------------------------------------------
def _inputs_for(rasa: Rasa, base: TrainingInputs, project_data: Path, split_data: Path,
                curated: CuratedData, out_dir: Path) -> TrainingInputs:
    """The regular inputs with the project's data replaced by its split copy and the curated export of
    ``curated`` (instead of the active one)."""
    others = [p for p in base.data if p.resolve() != project_data.resolve() and p.name != EXPORT_NAME]
    return replace(base, data=[split_data, *others, write_export(curated, out_dir)])


def validate(rasa: Rasa, inputs: TrainingInputs, cwd: Path) -> None:
    cmd = [rasa.rasa_bin, "data", "validate", "--domain", str(inputs.domain), "--config", str(inputs.config),
           "--data", *[str(p) for p in inputs.data]]
    proc = subprocess.run(cmd, env=rasa.env, cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()
        errors = [line for line in output if "error" in line.lower()] or output
        detail = " | ".join(errors[-6:])[-1200:]
        raise CandidateFailed(f"rasa data validate refused the training data: {detail}")


def _digest(inputs: TrainingInputs) -> str:
    h = hashlib.sha256(SPLIT_ID.encode())
    for path in inputs.files():
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def run_candidate(settings: Settings, rasa: Rasa, cid: str) -> dict[str, Any]:
    """Validate, train, evaluate candidate ``cid`` (queued by ``Candidates.new``); returns its report.
    Blocks for minutes: the ``civic curation train`` process runs it."""
    curation = settings.paths.curation_dir
    candidates, store = Candidates(curation), CurationStore(curation)
    folder = candidates.path(cid)
    status = candidates.status(cid)
    version = int(status["version"])
    with (curation / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            candidates.set_status(cid, state="validating", pid=os.getpid(), started_at=time.time())
            started = time.monotonic()
            report = _run(settings, rasa, candidates, store, cid, version, folder)
            report["seconds"] = round(time.monotonic() - started, 1)
            (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1),
                                                encoding="utf-8")
            candidates.set_status(cid, state="ready", regressions=report["regressions"],
                                  seconds=report["seconds"], model=str(candidates.model(cid)))
            return report
        except BaseException as exc:
            candidates.set_status(cid, state="failed", error=str(exc)[:2000] or type(exc).__name__)
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(settings: Settings, rasa: Rasa, candidates: Candidates, store: CurationStore, cid: str, version: int,
         folder: Path) -> dict[str, Any]:
    active = read_active(settings.paths.curation_dir)
    active_version = int(active.get("version") or 0)
    curated, curated_before = store.get(version), store.get(active_version)
    base = rasa.prepare()
    project_data = settings.project_dir / "data"
    heldout = split_project_data(project_data, folder / "data")
    inputs = _inputs_for(rasa, base, project_data, folder / "data", curated, folder)
    validate(rasa, inputs, folder)
    # the baseline: the active model when it was trained on this split, else one trained once and cached,
    # at the same time as the candidate (each `rasa train` keeps about one core busy)
    baseline: Path | None = None
    pending: concurrent.futures.Future[Path] | None = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="baseline")
    try:
        if active.get("split") == SPLIT_ID and Path(str(active.get("model"))).is_file():
            baseline = Path(str(active["model"]))
        else:
            base_dir = candidates.root / "baselines" / f"v{active_version:04d}"
            base_inputs = _inputs_for(rasa, base, project_data, folder / "data", curated_before, base_dir)
            cache = candidates.root / "baselines" / _digest(base_inputs)
            found = sorted((cache / "model").glob("*.tar.gz"))
            if found:
                baseline = found[-1]
            else:
                pending = pool.submit(rasa.train, base_inputs, cache / "model",
                                      folder / "baseline-progress.json", "baseline for the comparison",
                                      cache / "rasa-cache")
        candidates.set_status(cid, state="training", baseline=str(baseline or "training"))
        model = rasa.train(inputs, folder / "model", folder / "progress.json", f"candidate {cid}", None)
        if pending is not None:
            candidates.set_status(cid, state="training-baseline")
            baseline = pending.result()
            shutil.rmtree(cache / "rasa-cache", ignore_errors=True)
    finally:
        pool.shutdown(wait=True)
    assert baseline is not None
    candidates.set_status(cid, state="evaluating")
    evalset = heldout + [(e.text, e.intent) for e in curated.heldout_examples()]
    before_keys = {(e.text, e.intent) for e in curated_before.examples}
    probes = [(e.text, e.intent) for e in curated.training_examples()
              if (e.text, e.intent) not in before_keys]
    texts = [t for t, _ in evalset] + [t for t, _ in probes]
    stories = settings.project_dir / "tests" / "conversations"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="stories") as side:
        story_run = side.submit(conversation_tests, rasa, model, stories, folder / "conversations")
        predicted = run_evaluator(rasa, {"before": baseline, "after": model}, texts, folder)
        conversations = story_run.result()
    n = len(evalset)
    report = compare(evalset, predicted["before"][:n], predicted["after"][:n],
                     probes, predicted["before"][n:], predicted["after"][n:])
    report.update(candidate=cid, version=version, active_version=active_version, baseline=str(baseline),
                  model=str(model), split=SPLIT_ID, conversations=conversations)
    if conversations.get("failed"):
        report["regressions"].append(CONVERSATION_TESTS)
    return report


CONVERSATION_TESTS = "conversation tests"


def failed_stories(text: str) -> list[str]:
    """The names of the stories in Rasa's ``failed_test_stories.yml``."""
    if "None of the test stories failed" in text:
        return []
    doc = yaml.safe_load(text) or {}
    return [str(s.get("story", "?")) for s in doc.get("stories") or [] if isinstance(s, dict)]


def conversation_tests(rasa: Rasa, model: Path, stories: Path, out: Path) -> dict[str, Any]:
    """The project's conversation tests (``<project>/tests/conversations``, Rasa test stories) on the
    candidate: ``{"ran", "stories", "failed": [names]}``; ``ran`` False when the project has none."""
    files = sorted(stories.glob("*.yml")) if stories.is_dir() else []
    if not files:
        return {"ran": False, "stories": 0, "failed": []}
    count = sum(len((yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("stories") or [])
                for f in files)
    cmd = [rasa.rasa_bin, "test", "core", "--stories", str(stories), "--model", str(model), "--out", str(out),
           "--no-plot"]
    proc = subprocess.run(cmd, env=rasa.env, cwd=out.parent, capture_output=True, text=True, timeout=900,
                          check=False)
    result = out / "failed_test_stories.yml"
    if proc.returncode != 0 or not result.is_file():
        raise CandidateFailed(f"the conversation tests did not run: {(proc.stderr or proc.stdout)[-800:]}")
    return {"ran": True, "stories": count, "failed": failed_stories(result.read_text(encoding="utf-8"))}


def start_background(settings: Settings, cid: str) -> subprocess.Popen[bytes]:
    """Run ``civic curation train --candidate CID`` as a process of its own (the app's Train button)."""
    argv = [sys.executable, "-c", "from civic.cli import main; main()", "--home", str(settings.home),
            "curation", "train", "--candidate", cid]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (settings.paths.ensure().logs_dir / "curation.log").open("ab") as log:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    Candidates(settings.paths.curation_dir).set_status(cid, launcher_pid=proc.pid)
    return proc


def _alive(pid: int) -> bool:
    """Is ``pid`` a running process (not gone, not a zombie)?  Same host only."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


# -- activation ------------------------------------------------------------------------------------------
Loader = Callable[[Path], Awaitable[None]]


def _running_model(settings: Settings, loaded: str) -> Path | None:
    if not loaded:
        return None
    path = Path(loaded)
    if path.is_absolute() and path.is_file():
        return path
    for folder in (settings.paths.models_dir, *settings.paths.curation_dir.glob("candidates/*/model")):
        if (folder / path.name).is_file():
            return folder / path.name
    return None


async def activate(settings: Settings, cid: str, load: Loader, *, loaded: str = "", actor: str = "",
                   override: bool = False) -> dict[str, Any]:
    """Hot-swap candidate ``cid`` into the engine (``load`` is the engine's PUT /model).  ``loaded`` is the
    model the engine has now (its /status), remembered so a roll-back can return to it.  A candidate that
    loses more than MAX_F1_LOSS on an intent is refused unless ``override``."""
    curation = settings.paths.curation_dir
    candidates = Candidates(curation)
    status = candidates.status(cid)
    if status.get("state") != "ready":
        raise InvalidInput(f"candidate {cid} is {status.get('state')}, not ready to activate")
    report = candidates.report(cid)
    if report["regressions"] and not override:
        raise InvalidInput(f"candidate {cid} loses more than {MAX_F1_LOSS} F1 on "
                           f"{', '.join(report['regressions'])}; activating it needs an explicit override")
    active = read_active(curation)
    history: list[dict[str, Any]] = list(active.get("history") or [])
    if not history:
        before = _running_model(settings, loaded)
        if before is None:
            raise InvalidInput("the engine's current model is unknown (is the engine running?); "
                               "nothing to roll back to")
        history.append({"candidate": None, "model": str(before), "version": 0, "split": "", "at": time.time(),
                        "actor": "", "override": False})
    source = candidates.model(cid)
    target = settings.paths.ensure().models_dir / source.name
    if not target.is_file():
        await asyncio.to_thread(shutil.copy2, source, target)
    os.utime(target)  # the newest model in models/: an engine restart starts with it
    await load(target)
    entry = {"candidate": cid, "model": str(target), "version": int(report["version"]), "split": SPLIT_ID,
             "at": time.time(), "actor": actor, "override": bool(override and report["regressions"])}
    history.append(entry)
    write_active(curation, {**entry, "history": history})
    candidates.set_status(cid, state="ready", activated_at=entry["at"])
    return {"before": history[-2], "after": entry, "regressions": report["regressions"]}


async def rollback(settings: Settings, load: Loader, *, actor: str = "") -> dict[str, Any]:
    """Re-activate the model that was active before the current one."""
    curation = settings.paths.curation_dir
    active = read_active(curation)
    history: list[dict[str, Any]] = list(active.get("history") or [])
    if len(history) < 2:
        raise InvalidInput("nothing to roll back to: no model was activated by the curation loop")
    current, previous = history[-1], history[-2]
    model = Path(previous["model"])
    if not model.is_file():
        raise NotFound(f"the previous model {model} is no longer there")
    os.utime(model)
    await load(model)
    copy = Path(current["model"])
    if current.get("candidate") and copy.parent == settings.paths.models_dir and copy != model:
        copy.unlink(missing_ok=True)  # a restart must not bring the rolled-back model back
    history.pop()
    write_active(curation, {**previous, "history": history, "rolled_back_by": actor,
                            "rolled_back_at": time.time()})
    return {"before": current, "after": previous}


def active_state(settings: Settings) -> dict[str, Any]:
    return read_active(settings.paths.curation_dir)
