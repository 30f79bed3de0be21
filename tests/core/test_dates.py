"""The city's calendar (core/dates.py): the day is the city's, not the server's clock zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.dates import local_today
from core.errors import ConfigError


def test_today_is_the_citys_day() -> None:
    shanghai = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    honolulu = datetime.now(timezone(timedelta(hours=-10))).date().isoformat()
    assert local_today("Asia/Shanghai") == shanghai
    assert local_today("Pacific/Honolulu") == honolulu
    assert local_today("UTC") == datetime.now(UTC).date().isoformat()


def test_an_unknown_zone_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="setting 'time_zone'"):
        local_today("Mars/Olympus")
