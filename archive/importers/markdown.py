"""Markdown with YAML front matter: the front matter holds the catalog fields, the text is the body.

Without an ``id`` the file name (without extension) is used; without a ``title`` the first ``# heading``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from archive.importers.base import RawRecord

_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def read(text: str, path: Path) -> Iterator[RawRecord]:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        yield RawRecord(1, error=f"front matter is not valid YAML: {exc}")
        return
    data: dict[str, Any] = {}
    for key, value in post.metadata.items():
        # YAML turns 2024-05-01 into a date: keep it as the ISO text the validator expects
        data[str(key)] = value.isoformat() if isinstance(value, date) else value
    data.setdefault("id", path.stem)
    if not data.get("title"):
        match = _HEADING.search(post.content)
        if match:
            data["title"] = match.group(1)
    data.setdefault("body", post.content)
    yield RawRecord(1, data)
