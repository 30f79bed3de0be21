"""Shared fixtures: every test gets a throwaway data directory; nothing touches ./var."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings, load_settings

# engine fixtures (a trained model, a running stack) live in their own module
pytest_plugins = ["tests.engine_fixtures"]

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty data directory, also exported as CIVIC_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("CIVIC_HOME", str(path))
    return path


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home)


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data; the calling test is skipped when it is absent (a user's fresh clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path
