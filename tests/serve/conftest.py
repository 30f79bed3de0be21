"""A tiny Rasa project and a home wired to the fake engine (tests/serve/fake_rasa.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

FAKE_RASA = Path(__file__).resolve().parent / "fake_rasa.py"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal Rasa project directory: config.yml, domain.yml, data/nlu.yml."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "config.yml").write_text("recipe: default.v1\nlanguage: zh\npipeline: []\n", encoding="utf-8")
    (root / "domain.yml").write_text('version: "3.1"\nintents: [greet]\n', encoding="utf-8")
    (root / "data" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n', encoding="utf-8"
    )
    for name in ("endpoints.yml", "credentials.yml"):
        (root / name).write_text("# test\n", encoding="utf-8")
    return root


@pytest.fixture
def fake_home(home: Path, project: Path) -> Path:
    """A home whose civic.toml points at the tiny project and the fake engine (lexical search only, so
    no embedding model loads: these tests are about processes, not retrieval)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "civic.toml").write_text(
        f'rasa_bin = "{FAKE_RASA}"\nproject_dir = "{project}"\nembedding_model = "none"\n', encoding="utf-8"
    )
    return home
