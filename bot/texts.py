"""Reading the domain's responses from Python without putting any text in Python.

Actions get the domain (with its responses) in every call; ChatService reads the domain files once.
A response variant is chosen the way Rasa chooses it: the variant whose ``language`` slot condition
matches, else the variant without conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def pick(domain: dict[str, Any], name: str, language: str | None) -> dict[str, Any]:
    """The response variant of ``name`` for ``language`` (an empty dict when the response is missing)."""
    variants = (domain.get("responses") or {}).get(name) or []
    default: dict[str, Any] = {}
    for variant in variants:
        conditions = variant.get("condition") or []
        if not conditions:
            default = default or variant
            continue
        if all(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return dict(variant)
    return dict(default)


def text(domain: dict[str, Any], name: str, language: str | None, **values: Any) -> str:
    template = str(pick(domain, name, language).get("text", ""))
    try:
        return template.format(**values) if values else template
    except (KeyError, IndexError):
        return template


def load_domain(domain_path: Path) -> dict[str, Any]:
    """Merge a domain file or a directory of domain files: the responses (what ``pick`` reads) and the
    ``session_config`` (the session expiry the app's compaction follows)."""
    files = sorted(domain_path.glob("*.yml")) if domain_path.is_dir() else [domain_path]
    responses: dict[str, Any] = {}
    session_config: dict[str, Any] = {}
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        responses.update(data.get("responses") or {})
        session_config.update(data.get("session_config") or {})
    return {"responses": responses, "session_config": session_config}
