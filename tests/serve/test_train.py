"""Training only when the inputs changed: the fingerprint, the stamp and the rasa subprocess (faked here;
the real `rasa train` runs in the session's trained_home fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civic.train import STAMP_NAME, TrainingFailed, current_model, prepare_inputs, train
from core.settings import load_settings


def test_trains_once_then_skips_until_data_changes(fake_home: Path, project: Path) -> None:
    settings = load_settings(fake_home)
    first = train(settings, echo=lambda m: None, stream=False)
    assert first.trained and first.reason == "no trained model"
    assert first.model.is_file() and first.model.parent == settings.paths.models_dir
    stamp = json.loads((settings.paths.models_dir / STAMP_NAME).read_text())
    assert stamp["model"] == first.model.name

    second = train(settings, echo=lambda m: None, stream=False)
    assert not second.trained and second.reason == "model up to date"
    assert second.model == first.model

    (project / "data" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n    - 您好\n', encoding="utf-8"
    )
    third = train(settings, echo=lambda m: None, stream=False)
    assert third.trained and third.reason == "training data changed"
    assert third.model != first.model
    assert current_model(settings) == third.model


def test_force_retrains_and_log_keeps_output(fake_home: Path) -> None:
    settings = load_settings(fake_home)
    train(settings, echo=lambda m: None, stream=False)
    forced = train(settings, force=True, echo=lambda m: None, stream=False)
    assert forced.trained and forced.reason == "forced"
    log = (settings.paths.logs_dir / "train.log").read_text()
    assert log.count("Epochs: 3/3") == 2


def test_old_models_are_pruned(fake_home: Path) -> None:
    settings = load_settings(fake_home)
    for _ in range(5):
        latest = train(settings, force=True, echo=lambda m: None, stream=False).model
    models = list(settings.paths.models_dir.glob("*.tar.gz"))
    assert len(models) == 3 and latest in models


def test_failed_training_raises_and_keeps_no_stamp(fake_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_RASA_FAIL", "1")
    settings = load_settings(fake_home)
    with pytest.raises(TrainingFailed, match=r"train\.log"):
        train(settings, echo=lambda m: None, stream=False)
    assert not (settings.paths.models_dir / STAMP_NAME).exists()


def test_missing_engine_is_a_clear_error(fake_home: Path) -> None:
    settings = load_settings(fake_home).with_overrides(rasa_bin=str(fake_home / "no-such-rasa"))
    with pytest.raises(TrainingFailed, match="make setup"):
        train(settings, echo=lambda m: None, stream=False)


def test_inputs_are_generated_from_the_archive(fake_home: Path, project: Path) -> None:
    inputs = prepare_inputs(load_settings(fake_home))
    assert inputs.config.parent != project  # nlu.generate writes a config copy into the home
    assert inputs.config.exists() and all(p.exists() for p in inputs.data)


def test_a_copied_home_keeps_its_model(fake_home: Path, tmp_path: Path) -> None:
    from tests.engine_fixtures import copy_home

    first = train(load_settings(fake_home), echo=lambda m: None, stream=False)
    copy = copy_home(fake_home, tmp_path / "copy")
    again = train(load_settings(copy), echo=lambda m: None, stream=False)
    assert not again.trained, again.reason
    assert again.model.name == first.model.name and again.model.parent == copy / "models"
