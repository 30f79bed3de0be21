"""The admin commands: docs list/show/lifecycle and stats, and help text on every command."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from civic.cli import cli
from tests.archive.helpers import record, run, write_jsonl


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _walk(sub, (*path, name))
    return found


@pytest.mark.parametrize(
    "path,command", _walk(cli)[1:], ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help(path: tuple[str, ...], command: click.Command, home: Path) -> None:
    assert (command.help or "").strip(), f"civic {' '.join(path)} has no help text"
    result = run(home, *path, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"civic {' '.join(path)} {param.opts[0]} has no help"


@pytest.fixture
def loaded(home: Path, tmp_path: Path) -> Path:
    rows = [
        record("p-old", type="policy", title="旧办法"),
        record("p-new", type="policy", title="新办法", status="draft"),
        record("g1", title="结婚登记", materials=["身份证"]),
        record("f1", type="faq", title="社保卡丢了怎么办"),
    ]
    assert run(home, "import", str(write_jsonl(tmp_path / "docs.jsonl", rows))).exit_code == 0
    return home


def test_docs_list_filters(loaded: Path) -> None:
    out = run(loaded, "docs", "list", "--type", "policy").stdout
    assert [line.split("\t")[0] for line in out.splitlines()] == ["p-new", "p-old"]
    data = json.loads(run(loaded, "docs", "list", "--status", "draft", "--json").stdout)
    assert data["total"] == 1 and data["documents"][0]["id"] == "p-new"


def test_lifecycle_commands_and_history(loaded: Path) -> None:
    assert run(loaded, "docs", "review", "p-new").exit_code == 0
    assert run(loaded, "docs", "publish", "p-new").exit_code == 0
    result = run(loaded, "docs", "abolish", "p-old", "--reason", "被新办法取代", "--replaced-by", "p-new")
    assert result.exit_code == 0 and "abolished (version 2)" in result.stdout
    shown = run(loaded, "docs", "show", "p-old", "--history").stdout
    assert "replaced_by: p-new" in shown and "status published→abolished" in shown and "被新办法取代" in shown
    data = json.loads(run(loaded, "docs", "show", "p-new", "--history", "--json").stdout)
    assert [v["status"] for v in data["history"]] == ["draft", "review", "published"]


def test_bad_moves_and_unknown_ids_fail_with_named_errors(loaded: Path) -> None:
    bad = run(loaded, "docs", "review", "f1")
    assert bad.exit_code == 0  # published → review is allowed
    wrong = run(loaded, "docs", "expire", "p-new")  # draft → expired is not
    assert wrong.exit_code != 0 and "cannot move from draft to expired" in str(wrong.exception)
    missing = run(loaded, "docs", "show", "nope")
    assert missing.exit_code != 0 and "nope" in str(missing.exception)


def test_stats(loaded: Path) -> None:
    data = json.loads(run(loaded, "stats", "--json").stdout)
    assert data["by_type"] == {"faq": 1, "guide": 1, "policy": 2}
    assert data["by_status"] == {"draft": 1, "published": 3}
    text = run(loaded, "stats").stdout
    assert "by_type: faq 1, guide 1, policy 2" in text
