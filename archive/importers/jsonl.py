"""JSON Lines: one JSON object per line; blank lines are skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator

from archive.importers.base import RawRecord


def read(text: str) -> Iterator[RawRecord]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRecord(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:  # json's C scanner gives up on deep nesting ([[[[…: a crash before)
            yield RawRecord(number, error="not valid JSON: nested too deeply")
            continue
        if not isinstance(data, dict):
            yield RawRecord(number, error=f"expected a JSON object, got {type(data).__name__}")
            continue
        yield RawRecord(number, data)


def count(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())
