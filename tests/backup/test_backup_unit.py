"""civic/backup.py on a small home: secrets excluded by default, tampering refused, a non-empty home."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import Archive
from civic.backup import backup, restore
from core.errors import InvalidInput
from core.settings import load_settings


@pytest.fixture
def small_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    settings = load_settings(home)  # creates secrets.toml
    settings.paths.ensure()
    Archive(settings.paths.archive_db).close()
    (home / "civic.toml").write_text('time_zone = "UTC"\n', encoding="utf-8")
    return home


def test_secrets_excluded_by_default_and_included_on_request(small_home: Path, tmp_path: Path) -> None:
    manifest = backup(load_settings(small_home), tmp_path / "b1", progress=False)
    assert "secrets.toml" not in {f["path"] for f in manifest["files"]}
    assert not (tmp_path / "b1" / "secrets.toml").exists()
    assert "archive.db" in {f["path"] for f in manifest["files"]}
    with_secrets = backup(load_settings(small_home), tmp_path / "b2", include_secrets=True, progress=False)
    assert "secrets.toml" in {f["path"] for f in with_secrets["files"]}


def test_tampered_backup_is_refused_and_nothing_written(small_home: Path, tmp_path: Path) -> None:
    backup(load_settings(small_home), tmp_path / "b", progress=False)
    (tmp_path / "b" / "civic.toml").write_text('time_zone = "Asia/Tokyo"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"civic\.toml"):
        restore(tmp_path / "b", tmp_path / "new", progress=False)
    assert not (tmp_path / "new").exists()


def test_non_empty_home_needs_force(small_home: Path, tmp_path: Path) -> None:
    backup(load_settings(small_home), tmp_path / "b", progress=False)
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not empty"):
        restore(tmp_path / "b", target, progress=False)
    assert (target / "keep.txt").exists()
    restore(tmp_path / "b", target, force=True, progress=False)
    assert (target / "archive.db").exists() and not (target / "keep.txt").exists()
    with pytest.raises(InvalidInput, match="not empty"):
        backup(load_settings(small_home), tmp_path / "b", progress=False)


def test_settings_paths_inside_the_old_home_follow_it(small_home: Path, tmp_path: Path) -> None:
    old = small_home.resolve()
    (small_home / "civic.toml").write_text(
        f'embedding_cache = "{old}/cache"\nproject_dir = "/elsewhere/project"\n', encoding="utf-8")
    backup(load_settings(small_home), tmp_path / "b", progress=False)
    restore(tmp_path / "b", tmp_path / "new", progress=False)
    text = (tmp_path / "new" / "civic.toml").read_text(encoding="utf-8")
    assert f'embedding_cache = "{(tmp_path / "new").resolve()}/cache"' in text
    assert 'project_dir = "/elsewhere/project"' in text
    assert str(old) + "/" not in text
