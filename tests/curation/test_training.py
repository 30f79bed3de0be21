"""Candidates without the engine: the held-out split, per-intent F1, the regression gate, activation and
roll-back against a recording loader (the engine's PUT /model is exercised in test_loop.py)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
import yaml

from app.curation import training
from app.curation.store import CurationStore, read_active
from core.errors import InvalidInput
from core.settings import REPO_ROOT, Settings


def test_split_keeps_one_in_ten_handwritten_examples_out_and_everything_else_whole(tmp_path: Path) -> None:
    heldout = training.split_project_data(REPO_ROOT / "data", tmp_path / "data")
    total = kept = 0
    for path in (REPO_ROOT / "data").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        copy = yaml.safe_load((tmp_path / "data" / path.relative_to(REPO_ROOT / "data")).read_text("utf-8"))
        if "nlu" not in doc:
            assert copy == doc  # rules and stories untouched
            continue
        for entry, copied in zip(doc["nlu"], copy["nlu"], strict=True):
            if "intent" in entry:
                total += len(entry["examples"].strip().splitlines())
                kept += len(copied["examples"].strip().splitlines())
            else:
                assert copied == entry  # synonyms, lookups, regexes
    assert total - kept == len(heldout)
    assert 0.05 * total < len(heldout) < 0.15 * total
    assert all("[" not in text and "](" not in text for text, _ in heldout)
    again = training.split_project_data(REPO_ROOT / "data", tmp_path / "again")
    assert again == heldout  # stable


def test_plain_text_drops_entity_annotations() -> None:
    assert training.plain_text('[居住证](item)要带[什么材料]{"entity":"aspect","value":"materials"}') == \
        "居住证要带什么材料"


def test_per_intent_f1_counts_the_fallback_as_a_miss() -> None:
    gold = ["affirm", "affirm", "deny", "deny"]
    scores = training.per_intent(gold, ["affirm", "nlu_fallback", "deny", "affirm"])
    assert scores["affirm"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert scores["deny"]["precision"] == 1.0 and scores["deny"]["recall"] == 0.5
    assert "nlu_fallback" not in scores


def test_compare_flags_an_intent_that_loses_more_than_the_margin_and_lists_changed_answers() -> None:
    evalset = [("好的", "affirm"), ("行", "affirm"), ("不要", "deny"), ("算了", "deny")]
    before, after = ["affirm", "affirm", "deny", "deny"], ["affirm", "affirm", "deny", "affirm"]
    report = training.compare(evalset, before, after, [("收到收到", "affirm")], ["nlu_fallback"], ["affirm"])
    assert report["regressions"] == ["affirm", "deny"]  # affirm loses precision, deny recall
    deny = next(r for r in report["intents"] if r["intent"] == "deny")
    assert deny["before"] == 1.0 and deny["after"] < 0.98 and deny["regression"]
    assert {c["text"] for c in report["changed"]} == {"算了", "收到收到"}
    assert report["probes"] == [{"text": "收到收到", "expected": "affirm", "before": "nlu_fallback",
                                 "after": "affirm"}]
    same = training.compare(evalset, ["affirm"] * 2 + ["deny"] * 2, ["affirm"] * 2 + ["deny"] * 2, [], [], [])
    assert same["regressions"] == [] and same["changed"] == []


def _ready_candidate(settings: Settings, regressions: list[str], version: int = 1) -> str:
    candidates = training.Candidates(settings.paths.curation_dir)
    cid = candidates.new(version)
    with pytest.raises(InvalidInput, match="still being trained"):
        candidates.new(version)  # one at a time
    model_dir = candidates.path(cid) / "model"
    model_dir.mkdir(parents=True)
    (model_dir / f"{cid}-model.tar.gz").write_bytes(b"model " + cid.encode())
    (candidates.path(cid) / "report.json").write_text(json.dumps({"regressions": regressions,
                                                                   "version": version}))
    candidates.set_status(cid, state="ready")
    return cid


class Loader:
    def __init__(self) -> None:
        self.loaded: list[Path] = []

    async def __call__(self, model: Path) -> None:
        assert model.is_file()
        self.loaded.append(model)


def test_activate_then_roll_back(settings: Settings) -> None:
    models = settings.paths.ensure().models_dir
    original = models / "20261201-000000-original.tar.gz"
    original.write_bytes(b"the model civic train made")
    CurationStore(settings.paths.curation_dir).add_examples("affirm", ["收到收到"], intents=["affirm"])
    cid = _ready_candidate(settings, [])
    load = Loader()
    result = asyncio.run(training.activate(settings, cid, load, loaded=original.name, actor="ed"))
    activated = models / f"{cid}-model.tar.gz"
    assert load.loaded == [activated] and activated.read_bytes() == f"model {cid}".encode()
    assert result["before"]["model"] == str(original)
    active = read_active(settings.paths.curation_dir)
    assert active["version"] == 1 and active["candidate"] == cid and active["split"] == training.SPLIT_ID
    back = asyncio.run(training.rollback(settings, load, actor="ed"))
    assert load.loaded[-1] == original and back["after"]["model"] == str(original)
    assert not activated.exists()  # an engine restart must not pick the rolled-back model
    assert read_active(settings.paths.curation_dir)["version"] == 0
    with pytest.raises(InvalidInput, match="nothing to roll back"):
        asyncio.run(training.rollback(settings, load))


def test_a_regressing_candidate_needs_an_explicit_override(settings: Settings) -> None:
    models = settings.paths.ensure().models_dir
    (models / "m0.tar.gz").write_bytes(b"m0")
    cid = _ready_candidate(settings, ["deny"])
    load = Loader()
    with pytest.raises(InvalidInput, match="override"):
        asyncio.run(training.activate(settings, cid, load, loaded="m0.tar.gz"))
    assert load.loaded == []
    result = asyncio.run(training.activate(settings, cid, load, loaded="m0.tar.gz", override=True))
    assert result["after"]["override"] is True and result["regressions"] == ["deny"]


def test_a_failed_load_keeps_the_previous_state(settings: Settings) -> None:
    (settings.paths.ensure().models_dir / "m0.tar.gz").write_bytes(b"m0")
    cid = _ready_candidate(settings, [])

    async def refuse(model: Path) -> None:
        from core.errors import EngineUnavailable

        raise EngineUnavailable("engine answered 400 at /model")

    with pytest.raises(Exception, match="400"):
        asyncio.run(training.activate(settings, cid, refuse, loaded="m0.tar.gz"))
    assert read_active(settings.paths.curation_dir) == {}


def test_an_unready_candidate_is_refused(settings: Settings) -> None:
    candidates = training.Candidates(settings.paths.curation_dir)
    cid = candidates.new(1)
    with pytest.raises(InvalidInput, match="not ready"):
        asyncio.run(training.activate(settings, cid, Loader(), loaded="x"))
    with pytest.raises(InvalidInput):
        candidates.path("../etc")


def test_failed_conversation_stories_are_read_from_rasas_report() -> None:
    assert training.failed_stories("# None of the test stories failed - all good!") == []
    name = "问材料 (./tests/conversations/test_answers.yml)"
    report = f'version: "3.1"\nstories:\n- story: {name}\n  steps: []\n'
    assert training.failed_stories(report) == [name]


@pytest.mark.engine
def test_the_conversation_tests_run_on_a_model(trained_home: Path, tmp_path: Path) -> None:
    from civic.commands.curation_cmds import rasa_tools
    from core.settings import load_settings

    settings = load_settings(trained_home)
    model = max((trained_home / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    result = training.conversation_tests(rasa_tools(settings), model, REPO_ROOT / "tests" / "conversations",
                                         tmp_path / "out")
    assert result["ran"] and result["stories"] >= 25 and result["failed"] == []
    assert training.conversation_tests(rasa_tools(settings), model, tmp_path / "none", tmp_path / "o2") == {
        "ran": False, "stories": 0, "failed": []}


def test_a_candidate_whose_process_died_is_failed_not_running_forever(settings: Settings) -> None:
    import subprocess

    candidates = training.Candidates(settings.paths.curation_dir)
    cid = candidates.new(1)
    gone = subprocess.Popen(["true"])
    gone.wait()
    candidates.set_status(cid, state="training", pid=gone.pid)
    status = candidates.status(cid)
    assert status["state"] == "failed" and "exited" in status["error"]
    assert candidates.running() is None
    candidates.set_status(cid, state="training", pid=os.getpid())
    assert candidates.status(cid)["state"] == "training"
