"""Shared fixtures: every test gets a throwaway data directory; nothing touches ./var."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# -- stray processes: which test module left a child running (a CI flake once looked like CPU starvation) --
_STRAYS: dict[int, tuple[str, str]] = {}  # pid -> (module that left it, command line)


def _children() -> dict[int, str]:
    import psutil

    found: dict[int, str] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            found[child.pid] = " ".join(child.cmdline())[:160]
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module", autouse=True)
def _note_strays(request: pytest.FixtureRequest) -> Iterator[None]:
    before = set(_children())
    yield
    for pid, cmd in _children().items():
        if pid not in before and pid not in _STRAYS:
            _STRAYS[pid] = (request.node.nodeid, cmd)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    alive = _children()
    strays = [(module, cmd) for pid, (module, cmd) in _STRAYS.items() if pid in alive]
    if strays:
        terminalreporter.section("processes a test module left running")
        for module, cmd in strays:
            terminalreporter.write_line(f"{module}: {cmd}")
