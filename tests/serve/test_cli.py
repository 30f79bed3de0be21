"""The serve/train command surface: help text, hidden worker, errors at the edge."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from civic.cli import cli


def test_serve_and_train_have_help() -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["serve", "--help"]).output
    for option in ("--host", "--port", "--engine-port", "--no-demo"):
        assert option in out
    assert "--force" in runner.invoke(cli, ["train", "--help"]).output
    top = runner.invoke(cli, ["--help"]).output
    assert "serve" in top and "train" in top
    assert "app-worker" not in top  # started by the supervisor, not by people


def test_train_reports_up_to_date(fake_home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["--home", str(fake_home), "train"])
    assert first.exit_code == 0, first.output
    assert "Trained" in first.output
    second = runner.invoke(cli, ["--home", str(fake_home), "train"])
    assert second.exit_code == 0
    assert "model up to date" in second.output and "--force" in second.output
