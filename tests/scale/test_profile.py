"""The scale-out endpoint profile and the replica roles, without starting anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from civic.supervisor import Supervisor, endpoint_profile, state_name
from core.errors import ConfigError
from core.settings import Settings


def test_without_shared_stores_the_engine_keeps_tracker_db(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    path, env = endpoint_profile(settings)
    assert path.name == "endpoints.yml" and env == {"CIVIC_TRACKER_DB": str(tmp_path / "tracker.db")}


def test_the_scale_profile_splits_the_urls_and_takes_passwords_from_the_secrets(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, tracker_store_url="postgresql://civic@db.internal:6543/civic_tracker",
                        tracker_store_password="pg-secret", lock_store_url="redis://cache:6380/2",
                        lock_store_password="redis-secret")
    path, env = endpoint_profile(settings)
    assert path.name == "endpoints.scale.yml" and path.exists()
    text = path.read_text(encoding="utf-8")
    assert all(f"${{{name}}}" in text for name in env)  # every variable is one the profile reads
    assert env["CIVIC_TRACKER_HOST"] == "db.internal" and env["CIVIC_TRACKER_PORT"] == "6543"
    assert env["CIVIC_TRACKER_NAME"] == "civic_tracker" and env["CIVIC_TRACKER_USER"] == "civic"
    assert env["CIVIC_TRACKER_PASSWORD"] == "pg-secret" and env["CIVIC_LOCK_PASSWORD"] == "redis-secret"
    assert (env["CIVIC_LOCK_HOST"], env["CIVIC_LOCK_PORT"], env["CIVIC_LOCK_DB"]) == ("cache", "6380", "2")


@pytest.mark.parametrize("values, words", [
    ({"tracker_store_url": "postgresql://civic@db/civic"}, "go together"),
    ({"tracker_store_url": "postgresql://civic:pw@db/civic", "lock_store_url": "redis://r/1"}, "no password"),
    ({"tracker_store_url": "mysql://civic@db/civic", "lock_store_url": "redis://r/1"}, "postgresql://"),
    ({"tracker_store_url": "postgresql://civic@db/civic", "lock_store_url": "memcached://r"}, "redis://"),
])
def test_a_wrong_profile_is_refused(tmp_path: Path, values: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        endpoint_profile(Settings(home=tmp_path, **values))


def test_replica_roles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="engine_url"):
        Supervisor(Settings(home=tmp_path), role="app")
    with pytest.raises(ConfigError, match="role"):
        Supervisor(Settings(home=tmp_path), role="both")
    shared = Settings(home=tmp_path, engine_port=5006, engine_url="http://front:81")  # civic.toml of all
    engine = Supervisor(shared, role="engine")
    assert engine.engine_url == "http://127.0.0.1:5006" and not engine.external_engine  # itself, not front
    assert engine.state_file.name == "serve.engine-5006.json"
    app = Supervisor(Settings(home=tmp_path, port=8001, engine_url="http://front:81"), role="app")
    assert app.external_engine and app.engine_url == "http://front:81"
    assert state_name(Settings(home=tmp_path), "all", "lock") == "serve.lock"
