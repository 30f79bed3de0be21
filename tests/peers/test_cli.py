"""`civic peers …`: the subscription's state, its token kept 0600 and never printed, disable hides."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from archive import peers as sharing
from archive.store import Archive
from civic.cli import cli
from core.settings import Settings


def run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--home", str(settings.home), "peers", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_peers_commands(settings: Settings, tmp_path: Path) -> None:
    secret = "civ_the-provinces-token"
    token_file = tmp_path / "t"
    token_file.write_text(secret + "\n", encoding="utf-8")
    out = run(settings, "add", "prov", "http://127.0.0.1:9/", "--level", "province", "--token-file",
              str(token_file), "--label", "示范省人民政府")
    assert "prov" in out and secret not in out
    kept = settings.paths.peers_dir / "prov.token"
    assert kept.read_text(encoding="utf-8").strip() == secret and kept.stat().st_mode & 0o777 == 0o600
    listed = run(settings, "list")
    assert "prov\tprovince\ton\t示范省人民政府\thttp://127.0.0.1:9" in listed
    status = run(settings, "status")
    assert "last sync never" in status and "clashes 0" in status and secret not in status
    run(settings, "disable", "prov")
    with Archive(settings.paths.archive_db) as archive:
        assert sharing.hidden_origins(archive) == {"prov"}
        assert sharing.origins(archive)["prov"].label == "示范省人民政府"
    assert "\toff\t" in run(settings, "list")
    run(settings, "enable", "prov")
    with Archive(settings.paths.archive_db) as archive:
        assert sharing.hidden_origins(archive) == frozenset()
    bad = CliRunner().invoke(cli, ["--home", str(settings.home), "peers", "add", "prov", "http://x",
                                   "--level", "province", "--token-file", str(token_file)])
    assert bad.exit_code != 0 and "exists already" in str(bad.exception)
    run(settings, "remove", "prov")
    assert not kept.exists() and run(settings, "list") == ""
    with Archive(settings.paths.archive_db) as archive:
        assert sharing.hidden_origins(archive) == {"prov"}  # its documents stay, hidden
