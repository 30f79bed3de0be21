"""Fixtures that need the Rasa engine: a trained home and a running `civic serve` stack.

Registered from tests/conftest.py (``pytest_plugins``), so any test can ask for them:

- ``trained_home``: a data directory seeded with the demo corpus, its retrieval index built and the Rasa
  model trained, once per test session.  Treat it as read-only; ``copy_home`` makes a writable copy.
- ``running_stack``: ``civic serve`` on free ports against a copy of ``trained_home``, once per session;
  yields a ``Stack`` (``.url`` is the app's base URL).  At teardown it is stopped with SIGINT and the
  fixture asserts that no process it started is left.
- ``stack_factory``: start extra stacks inside one test (they are stopped at the end of the test).

Tests using them should be marked ``@pytest.mark.engine``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.stack import (  # noqa: F401  (re-exported for the tests)
    CIVIC,
    START_TIMEOUT,
    Stack,
    StackFailed,
    copy_home,
    free_port,
    http_json,
    snapshot_project,
    start_stack,
)
from core.settings import REPO_ROOT, Settings, load_settings


def _require_engine() -> None:
    rasa = Settings().rasa_bin
    if not Path(rasa).exists():
        pytest.skip(f"the engine virtualenv is missing ({rasa}); run `make setup`")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the demo corpus, the retrieval index and a trained model (built once per session)."""
    _require_engine()
    from civic.train import prepare_and_train

    # CIVIC_TEST_TRAINED_HOME=DIR keeps the trained home between sessions (iterating on engine tests):
    # built there the first time, brought up to date (usually a no-op) afterwards
    kept = os.environ.get("CIVIC_TEST_TRAINED_HOME")
    if kept and (Path(kept) / "home" / "civic.toml").exists():
        home = Path(kept) / "home"
        prepare_and_train(load_settings(home), demo=True, echo=print)
        return home
    base = Path(kept) if kept else tmp_path_factory.mktemp("trained")
    home = base / "home"
    home.mkdir(parents=True)
    # train and serve from a snapshot of the Rasa project, so edits in the working tree during the session
    # do not make later stacks retrain; stacks on copies of this home inherit it through civic.toml
    project = snapshot_project(REPO_ROOT, base / "project")
    (home / "civic.toml").write_text(f'project_dir = "{project}"\n', encoding="utf-8")
    # share Rasa's component cache across test sessions: unchanged components are restored, not retrained
    os.environ.setdefault("RASA_CACHE_DIRECTORY", str(REPO_ROOT / ".rasa" / "cache"))
    prepare_and_train(load_settings(home), demo=True, echo=print)
    return home


@pytest.fixture(scope="session")
def running_stack(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`civic serve` on free ports against a copy of ``trained_home``; stopped (and checked) at the end."""
    base = tmp_path_factory.mktemp("stack")
    stack = start_stack(copy_home(trained_home, base / "home"), base)
    yield stack
    left = stack.stop()
    assert not left, f"processes left behind by civic serve: {left}"


@pytest.fixture
def stack_factory(trained_home: Path, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start more stacks inside one test: ``stack_factory()`` on a fresh copy of ``trained_home``."""
    stacks: list[Stack] = []

    def start(*extra: str, home: Path | None = None, wait: bool = True) -> Stack:
        n = len(stacks)
        target = home or copy_home(trained_home, tmp_path / f"home{n}")
        stacks.append(start_stack(target, tmp_path, *extra, wait=wait))
        return stacks[-1]

    yield start
    left = [proc for stack in stacks for proc in stack.stop()]
    assert not left, f"processes left behind by civic serve: {left}"
