"""Intent recognition on citizen messages the model never saw (tests/dialogue/nlu_probe.yml), and the
training data's consistency: no message labelled as two intents, no probe message copied into training."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from nlu.examples import demo_training_examples, read_examples
from tests.dialogue.test_engine import rasa

PROBE = Path(__file__).with_name("nlu_probe.yml")
NOISE = re.compile(r"[\s，,。.!！?？~、]")


def normalise(text: str) -> str:
    return NOISE.sub("", text.lower())


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    return demo_training_examples(tmp_path_factory.mktemp("nlu"))[0]


def test_no_message_is_labelled_as_two_intents(training: list[tuple[str, str]]) -> None:
    labels: dict[str, set[str]] = defaultdict(set)
    for intent, text in training:
        labels[normalise(text)].add(intent)
    assert {text: sorted(i) for text, i in labels.items() if len(i) > 1} == {}


def test_probe_is_unseen_and_covers_every_intent(training: list[tuple[str, str]]) -> None:
    probe = read_examples(PROBE)
    assert len(probe) >= 60
    seen = {normalise(text) for _, text in training}
    assert [text for _, text in probe if normalise(text) in seen] == []
    assert {intent for intent, _ in probe} == {intent for intent, _ in training}


@pytest.mark.engine
def test_model_recognises_90_percent_of_the_probe(trained_home: Path, tmp_path: Path) -> None:
    model = max((trained_home / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    out = tmp_path / "probe"
    result = rasa(trained_home, "test", "nlu", "--nlu", str(PROBE), "--model", str(model), "--out", str(out),
                  "--no-plot")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    errors_file = out / "intent_errors.json"  # rasa writes it only when something was missed
    errors = json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else []
    misses = [(e["text"], e["intent"], e["intent_prediction"]["name"]) for e in errors]
    assert report["accuracy"] >= 0.90, misses
