"""nlu/persisted.py inside the engine's virtualenv: the same probabilities as the libraries' own objects.
(The components are also trained and loaded by every engine test, through the real `rasa train`.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from civic.train import rasa_env
from core.settings import load_settings

pytestmark = pytest.mark.engine


def test_stored_classifier_and_crf_match_the_libraries(home: Path) -> None:
    settings = load_settings(home)
    if not Path(settings.rasa_bin).exists():
        pytest.skip("the engine virtualenv is missing; run `make setup`")
    python = Path(settings.rasa_bin).parent / "python"
    script = Path(__file__).with_name("check_persisted.py")
    result = subprocess.run([str(python), str(script)], env=rasa_env(settings), capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert result.stdout.startswith("lr ")
