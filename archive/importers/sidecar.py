"""Sidecar files: the catalog elements of a PDF, DOCX, OFD, DOC or WPS file, in a JSON object or a YAML
mapping beside it, named after the whole file name: ``通知.pdf`` → ``通知.pdf.json`` (or ``.yml``,
``.yaml``).  The whole name, not ``通知.json``: that would be a JSON file to import in its own right.
The keys are the generic format's (docs/import-format.md); the record is validated like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from archive.validate import MALFORMED, RecordError

SUFFIXES = (".json", ".yml", ".yaml")
MAX_BYTES = 1024 * 1024


def find(path: Path) -> Path | None:
    """The sidecar of ``path``, when one of ``path.json``, ``path.yml``, ``path.yaml`` exists."""
    for suffix in SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def document_of(path: Path, documents: tuple[str, ...]) -> Path | None:
    """The document ``path`` is the sidecar of (a file with one of the ``documents`` suffixes beside it)."""
    if path.suffix.lower() not in SUFFIXES:
        return None
    target = path.with_name(path.name[: -len(path.suffix)])
    if target.suffix.lower() in documents and target.is_file():
        return target
    return None


def load(path: Path) -> tuple[dict[str, Any], bytes]:
    """The sidecar's mapping and its bytes; raises RecordError (``malformed``) naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordError(MALFORMED, f"sidecar {path.name}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise RecordError(MALFORMED, f"sidecar {path.name}: larger than {MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise RecordError(MALFORMED, f"sidecar {path.name}: not valid UTF-8 {kind}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecordError(MALFORMED, f"sidecar {path.name}: expected an object of catalog fields, "
                          f"got {type(data).__name__}")
    # YAML reads an unquoted 2024-03-05 as a date: the validator wants text
    return {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}, raw
