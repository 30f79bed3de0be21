"""``make bench-training``: training from scratch, model size and load time, engine CPU per turn, and the
intent cross-validation, written to bench/TRAINING.md.

Everything on one fresh home seeded with the demo corpus and no Rasa component cache, on this machine:

- **training**: ``civic train`` from scratch (the archive-generated data included), wall time;
- **load**: ``rasa run`` with that model until ``/status`` names it (median of two starts);
- **CPU per turn**: the engine process's CPU time over 600 turns of 「你好」 (a rule response), five turns per
  sender as in the dialogue bench, through Rasa's REST channel and through the app's ``civic`` channel;
  a repeated text's sentence vector is cached (nlu/use_featurizer.py), so what a *new* text adds is measured
  apart: the featurizer's CPU per message over 300 distinct training texts, cache off;
- **CV** (``--cv``): ``rasa test nlu --cross-validation --folds 5`` on the same training data.

    .venv/bin/python -m bench.training            # timings (a few minutes)
    .venv/bin/python -m bench.training --cv       # plus the 5-fold cross-validation (~4 more minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

from bench.machine import describe
from bench.report import write_report
from civic.supervisor import free_port
from civic.train import prepare_and_train, rasa_env
from core.settings import REPO_ROOT, load_settings


def log(message: str) -> None:
    print(f"[bench-training] {message}", flush=True)


class Engine:
    """`rasa run` on a model, with the REST and civic channels, a tracker store in ``work``."""

    def __init__(self, model: Path, work: Path, env: dict[str, str]) -> None:
        self.port, self.work = free_port(), work
        work.mkdir(parents=True, exist_ok=True)
        (work / "endpoints.yml").write_text(
            "tracker_store:\n  type: engine.tracker_store.CivicTrackerStore\n  dialect: sqlite\n"
            f"  db: {work / 'tracker.db'}\nlock_store:\n  type: in_memory\n", encoding="utf-8")
        (work / "credentials.yml").write_text("rest:\nengine.channel.CivicInput:\n", encoding="utf-8")
        self.started = time.monotonic()
        argv = [str(REPO_ROOT / ".venv-rasa" / "bin" / "rasa"), "run", "--enable-api", "--auth-token", "tok",
                "-i", "127.0.0.1", "-p", str(self.port), "-m", str(model),
                "--endpoints", str(work / "endpoints.yml"), "--credentials", str(work / "credentials.yml")]
        self.proc = subprocess.Popen(argv, cwd=work, env=env, stdout=(work / "rasa.log").open("wb"),
                                     stderr=subprocess.STDOUT)

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def wait_loaded(self) -> float:
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rasa run exited; see {self.work / 'rasa.log'}")
            try:
                if self.call("/status?token=tok").get("model_file"):
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.1)

    def cpu(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def cpu_per_turn(self, path: str, turns: int, metadata: bool) -> float:
        run = uuid.uuid4().hex[:6]
        before = self.cpu()
        for i in range(turns):
            body: dict[str, Any] = {"sender": f"{run}-{i // 5}", "message": "你好"}
            if metadata:
                body["metadata"] = {"language": "zh", "channel": "bench"}
            self.call(path, body)
        return (self.cpu() - before) / turns * 1000

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# in the engine's virtualenv: CPU ms of UseSentenceFeaturizer.process per new text (the texts on stdin)
_FEATURIZER_CPU = """
import json, sys, time
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.nlu.training_data.message import Message
from nlu.use_featurizer import UseSentenceFeaturizer
texts = json.loads(sys.stdin.read())
config = {**UseSentenceFeaturizer.get_default_config(), "cache_size": 0}
use = UseSentenceFeaturizer.create(config, None, None, ExecutionContext(GraphSchema({}), node_name="use"))
use.process([Message({"text": texts[0]})])
started = time.process_time()
for text in texts:
    use.process([Message({"text": text})])
print((time.process_time() - started) / len(texts) * 1000)
"""


def featurizer_cpu(settings: Any) -> float:
    """CPU ms the USE featurizer spends on one new message (one BLAS thread, as in a turn)."""
    from nlu.examples import read_examples

    files = sorted((settings.project_dir / "data" / "nlu").glob("*.yml"))
    texts = list(dict.fromkeys(t for path in files for _, t in read_examples(path)))[:300]
    python = Path(settings.rasa_bin).parent / "python"
    run = subprocess.run([str(python), "-c", _FEATURIZER_CPU], input=json.dumps(texts),
                         env=rasa_env(settings), capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def cross_validate(settings: Any, work: Path) -> dict[str, Any]:
    """`rasa test nlu` 5-fold cross-validation on the training data `civic train` used."""
    training = settings.paths.training_dir
    nlu = work / "cv-nlu"
    nlu.mkdir()
    files = [*sorted((settings.project_dir / "data" / "nlu").glob("*.yml")), training / "nlu_generated.yml"]
    for path in files:
        shutil.copy(path, nlu / path.name)
    out = work / "cv"
    started = time.monotonic()
    subprocess.run([settings.rasa_bin, "test", "nlu", "--nlu", str(nlu),
                    "--config", str(training / "config.yml"),
                    "--cross-validation", "--folds", "5", "--out", str(out)],
                   env=rasa_env(settings), cwd=work, check=True, capture_output=True)
    intents = json.loads((out / "intent_report.json").read_text())
    entities = next(iter(out.glob("*CRFEntityExtractor_report.json")), None)
    entity = json.loads(entities.read_text()) if entities else {}
    examples = sum(v.get("support", 0) for k, v in intents.items()
                   if isinstance(v, dict) and k not in ("macro avg", "weighted avg", "micro avg"))
    return {
        "examples": examples, "seconds": round(time.monotonic() - started),
        "intent_macro_f1": round(intents["macro avg"]["f1-score"], 3),
        "intent_weighted_f1": round(intents["weighted avg"]["f1-score"], 3),
        "intent_accuracy": round(float(intents.get("accuracy", 0.0)), 3),
        "entity_micro_f1": round(entity.get("micro avg", {}).get("f1-score", 0.0), 3),
        "item_f1": round(entity.get("item", {}).get("f1-score", 0.0), 3),
        "aspect_f1": round(entity.get("aspect", {}).get("f1-score", 0.0), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", action="store_true", help="also run the 5-fold cross-validation")
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "TRAINING.md")
    args = parser.parse_args()
    machine = describe()
    work = Path(tempfile.mkdtemp(prefix="civic-bench-training-"))
    os.environ["RASA_CACHE_DIRECTORY"] = str(work / "rasa-cache")  # from scratch: no cached components
    settings = load_settings(work / "home")
    log("training from scratch ...")
    started = time.monotonic()
    result = prepare_and_train(settings, echo=lambda m: None, stream=False)
    train_s = time.monotonic() - started
    model = result.model
    env = rasa_env(settings)
    loads, cpu_rest, cpu_civic = [], [], []
    for n in range(2):
        engine = Engine(model, work / f"engine-{n}", env)
        try:
            loads.append(engine.wait_loaded())
            log(f"loaded in {loads[-1]:.1f} s; measuring {args.turns} turns per channel ...")
            for _ in range(10):
                engine.call("/webhooks/rest/webhook", {"sender": f"warm-{n}", "message": "你好"})
            cpu_rest.append(engine.cpu_per_turn("/webhooks/rest/webhook", args.turns, metadata=False))
            cpu_civic.append(engine.cpu_per_turn("/webhooks/civic/webhook", args.turns, metadata=True))
        finally:
            engine.stop()
    log("the sentence vector of a new text ...")
    vector_ms = featurizer_cpu(settings)
    cv = cross_validate(settings, work) if args.cv else None
    row = {
        "train_s": round(result.seconds or train_s, 1), "train_wall_s": round(train_s, 1),
        "model_mb": round(model.stat().st_size / 1e6, 1), "load_s": round(statistics.median(loads), 1),
        "cpu_rest_ms": round(statistics.median(cpu_rest), 1),
        "cpu_civic_ms": round(statistics.median(cpu_civic), 1),
        "vector_ms": round(vector_ms, 1),
        "cv": cv,
    }
    log(json.dumps(row))
    write(args.out, machine, row)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def write(path: Path, machine: dict[str, Any], row: dict[str, Any]) -> None:
    cv = row["cv"]
    cv_text = ("not run (add `--cv`)" if cv is None else
               f"intent macro-F1 **{cv['intent_macro_f1']}**, weighted F1 {cv['intent_weighted_f1']}, "
               f"accuracy {cv['intent_accuracy']} over {cv['examples']} examples; entities (CRF) micro-F1 "
               f"{cv['entity_micro_f1']} (item {cv['item_f1']}, aspect {cv['aspect_f1']}); {cv['seconds']} s")
    text = f"""# Training, model load and engine CPU per turn

Measured {machine['date']} on {machine['nproc']} cores ({machine['cpu']}), {machine['ram_gb']} GiB RAM;
Python {machine['python']}, commit {machine['commit']}; load average at start {machine['load_avg_start']}.

Command: `.venv/bin/python -m bench.training{' --cv' if cv else ''}` (`make bench-training`): a fresh
home with the demo corpus, no Rasa component cache.

| measure | now | target |
|---|---|---|
| `civic train` from scratch | {row['train_s']} s ({row['train_wall_s']} s with seeding, indexing) | ≤ 3 min |
| model size | {row['model_mb']} MB | |
| model load at engine start (`rasa run` until `/status` names it) | {row['load_s']} s | ≤ 10 s |
| engine CPU per bare turn, Rasa's REST channel | {row['cpu_rest_ms']} ms | ≤ 15 ms |
| engine CPU per bare turn, the app's `civic` channel | {row['cpu_civic_ms']} ms | |
| a new text's sentence vector (USE featurizer; repeated texts are cached) | {row['vector_ms']} ms | |
| 5-fold intent cross-validation | {cv_text} | macro-F1 ≥ 0.852 |
"""
    write_report(path, text)


if __name__ == "__main__":
    raise SystemExit(main())
