"""Reading the domain's responses from Python without putting any text in Python.

The app reads the domain files once (``load_domain``) and hands the domain to every action call itself: the
engine does not serialise and send its whole domain with each call (``enable_selective_domain`` in
endpoints.yml), which cost it several milliseconds per action.
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
    """Merge a domain file or a directory of domain files the way Rasa does: lists (intents, entities,
    actions) are joined, mappings (responses, slots, forms, session_config) merged."""
    files = sorted(domain_path.glob("*.yml")) if domain_path.is_dir() else [domain_path]
    merged: dict[str, Any] = {"responses": {}, "session_config": {}, "slots": {}, "forms": {}}
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in data.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(v for v in value if v not in merged.get(key, []))
            else:
                merged[key] = value
    return merged
