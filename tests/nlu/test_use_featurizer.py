"""nlu/use_featurizer.py inside the engine's virtualenv: a real Rasa training and parse with the USE
sentence featurizer (check_use_featurizer.py), ~30 s."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from civic.train import rasa_env
from core.settings import load_settings

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = load_settings(tmp_path_factory.mktemp("use") / "home")
    if not Path(settings.rasa_bin).exists():
        pytest.skip("the engine virtualenv is missing; run `make setup`")
    python = Path(settings.rasa_bin).parent / "python"
    run = subprocess.run([str(python), str(Path(__file__).with_name("check_use_featurizer.py"))],
                         env=rasa_env(settings), cwd=settings.home.parent, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_a_parsed_message_carries_the_512_d_sentence_vector_at_the_configured_scale(
        checked: dict[str, Any]) -> None:
    assert checked["sentence_shape"] == [1, 512]
    assert checked["norm"] == pytest.approx(3.0, abs=1e-3)  # a unit vector times `scale`
    assert checked["sequence"] is False  # sentence features only: nothing for the CRF to misalign


def test_paraphrases_sharing_no_character_with_the_examples_get_their_intent(checked: dict[str, Any]) -> None:
    assert checked["parses"] == checked["expected"]
    assert checked["trained_right"] == checked["examples"]


def test_the_model_loads_once_per_process_and_not_at_import(checked: dict[str, Any]) -> None:
    assert checked["imported_without_loading"]
    assert checked["loads"] == 1  # training and the loaded model share it
    # the training examples are encoded in one call, not one by one
    assert checked["training_calls"] == [checked["examples"]]
