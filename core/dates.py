"""The city's calendar: which day it is where the city is (``settings.time_zone``), whatever the server's
clock zone. Validity windows (有效期), review checks and the consoles' date filters all ask here."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a ConfigError that names the setting when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"setting 'time_zone': {name!r} is not an IANA time zone (e.g. Asia/Shanghai)"
                          ) from exc


def local_today(time_zone: str) -> str:
    """Today's date in ``time_zone``, ISO ``yyyy-mm-dd``."""
    return datetime.now(zone(time_zone)).date().isoformat()
