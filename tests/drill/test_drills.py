"""The fault drills of bench/drill.py on the real stack (issue 16, part 2), one stack for the module: the
engine SIGKILLed under load (search answers, none lost, the conversation goes on after the restart), the app
SIGKILLed (the web chat's outbox re-sent exactly once, the hotline resumes from its last acked seq), the
archive locked by another process and read-only (the chat goes on; ``civic import`` names the problem;
``PRAGMA integrity_check`` ok).  The full-disk drill starts its own stack on a small tmpfs (root's
``mount``; skipped for other users)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.drill import (
    Drill,
    app_kill,
    engine_kill,
    full_disk,
    hotline_token,
    locked_archive,
    readonly_archive,
)
from core.settings import Settings, load_settings
from tests.engine_fixtures import Stack, copy_home, start_stack

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def drill_stack(trained_home: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Stack, Settings, str]]:
    base = tmp_path_factory.mktemp("drill")
    home = copy_home(trained_home, base / "home")
    token = hotline_token(home)
    stack = start_stack(home, base)
    yield stack, load_settings(home), token
    left = stack.stop()
    assert not left, f"processes left behind by civic serve: {left}"


def passed(drill: Drill) -> None:
    assert drill.ok, f"{drill.name}: {drill.figures} {drill.notes}"


def test_engine_sigkill_under_load_loses_nothing(drill_stack: tuple[Stack, Settings, str]) -> None:
    stack, settings, _ = drill_stack
    drill = asyncio.run(engine_kill(stack, settings, print, slots=6))
    passed(drill)
    figures = dict(drill.figures)
    assert "'search'" in figures["messages during the outage, by who answered"]
    assert figures["lost / doubled / errors"] == "0 / 0 / 0"


def test_app_sigkill_web_outbox_exactly_once_and_hotline_resumes(
    drill_stack: tuple[Stack, Settings, str],
) -> None:
    stack, settings, token = drill_stack
    drill = asyncio.run(app_kill(stack, settings, token, print))
    passed(drill)
    assert dict(drill.figures)["replies per key"] == "{1: 4}"  # four messages, one reply each


def test_locked_archive_gives_a_clear_error_and_no_corruption(
    drill_stack: tuple[Stack, Settings, str],
) -> None:
    stack, _, _ = drill_stack
    passed(asyncio.run(locked_archive(stack, print)))


def test_read_only_archive_gives_a_clear_error_and_no_corruption(
    drill_stack: tuple[Stack, Settings, str],
) -> None:
    stack, _, _ = drill_stack
    passed(asyncio.run(readonly_archive(stack, print)))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting the small tmpfs needs root")
def test_full_disk_gives_clear_errors_and_no_corruption(trained_home: Path, tmp_path: Path) -> None:
    passed(asyncio.run(full_disk(trained_home, tmp_path, print)))
