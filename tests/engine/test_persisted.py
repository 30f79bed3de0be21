"""What the engine loads from this repository, checked inside its virtualenv: nlu/persisted.py gives the
libraries' own probabilities, engine/tracker_store.py what Rasa's store would return.  (Both also run in every
engine test, through the real `rasa train` and `rasa run`.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from civic.train import rasa_env
from core.settings import load_settings

pytestmark = pytest.mark.engine


def in_engine(home: Path, script: str) -> subprocess.CompletedProcess[str]:
    settings = load_settings(home)
    if not Path(settings.rasa_bin).exists():
        pytest.skip("the engine virtualenv is missing; run `make setup`")
    python = Path(settings.rasa_bin).parent / "python"
    return subprocess.run([str(python), str(Path(__file__).with_name(script))], env=rasa_env(settings),
                          capture_output=True, text=True, timeout=300, check=False)


def test_stored_classifier_and_crf_match_the_libraries(home: Path) -> None:
    result = in_engine(home, "check_persisted.py")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.startswith("lr ")


def test_the_tracker_store_cache_never_serves_a_stale_tracker(home: Path) -> None:
    result = in_engine(home, "check_tracker_store.py")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.count("ok ") == 6


def test_action_responses_are_validated_as_rasa_does(home: Path) -> None:
    result = in_engine(home, "check_validation.py")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "same 6/6" in result.stdout
