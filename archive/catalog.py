"""The catalog record (政府信息公开目录): the form in which this archive exchanges documents with others.

``archive/catalog_schema.json`` is the standard: a JSON Schema (draft 2020-12) naming every element, its
type and its catalog name.  Field names are the generic import format's, so a record is a Document's
catalog elements plus, optionally, its body and a service guide's structured fields:

  to_record(doc)       Document -> record (every catalog element present, empty when unknown)
  validate(record)     every way a record breaks the schema, at once (``CatalogError``)
  from_record(record)  record -> Document: the schema first, then ``archive.validate.document_from_record``
                       (the rule every import follows: dates, 有效期 order, body size)

The local file a document was imported from (``Document.source``) is never part of a record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from archive.models import GUIDE_FIELDS, Document
from archive.validate import document_from_record
from core.errors import InvalidInput

SCHEMA_PATH = Path(__file__).resolve().with_name("catalog_schema.json")
LIST_JOIN = "、"  # how a list element is written in one CSV cell (the importer splits keywords on it)
ITEM_JOIN = "\n"  # ... and a guide's materials or steps (one per line)


class CatalogError(InvalidInput):
    """A record that breaks the catalog schema; ``problems`` lists each broken rule as "field: why"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the record breaks the catalog schema: " + "; ".join(problems))
        self.problems = problems


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def elements() -> tuple[str, ...]:
    """Every field of a record, in the schema's order."""
    return tuple(schema()["properties"])


def required() -> tuple[str, ...]:
    """The fields every record carries (the catalog elements and the lifecycle)."""
    return tuple(schema()["required"])


def titles() -> dict[str, str]:
    """The catalog name of each field, as the schema gives it (``doc_no`` -> ``文号 Document number``)."""
    return {name: spec["title"] for name, spec in schema()["properties"].items()}


def to_record(doc: Document, body: bool = True) -> dict[str, Any]:
    """The catalog record of ``doc`` (with its body unless ``body`` is False); a guide's structured fields
    appear when they are filled; ``version`` and ``updated_at`` when the archive has stored it."""
    content = doc.content()
    record: dict[str, Any] = {}
    for name in elements():
        if name == "body":
            if body:
                record[name] = doc.body
        elif name in GUIDE_FIELDS:
            if content[name]:
                record[name] = list(content[name]) if isinstance(content[name], list) else content[name]
        elif name == "version":
            if doc.version:
                record[name] = doc.version
        elif name == "updated_at":
            if doc.updated_at:
                record[name] = doc.updated_at
        else:
            value = content[name]
            record[name] = list(value) if isinstance(value, list) else str(value)
    return record


def problems(record: Any) -> list[str]:
    """Every way ``record`` breaks the schema, as "field: why" (empty when it is a valid record)."""
    found = []
    for error in sorted(_validator().iter_errors(record), key=lambda e: list(map(str, e.path))):
        where = "/".join(str(p) for p in error.path) or "record"
        found.append(f"{where}: {error.message}")
    return found


def validate(record: Any) -> None:
    """Raise ``CatalogError`` naming every broken rule when ``record`` is not a valid catalog record."""
    found = problems(record)
    if found:
        raise CatalogError(found)


def from_record(record: dict[str, Any], source: str = "", max_body_chars: int = 200_000) -> Document:
    """A Document from a catalog record that carries its body: checked against the schema, then by the
    import rule (``RecordError`` from ``archive.validate``)."""
    validate(record)
    doc = document_from_record(record, source=source, max_body_chars=max_body_chars)
    return doc


# -- files -------------------------------------------------------------------------------------------
def csv_columns(body: bool = True) -> tuple[str, ...]:
    """The CSV header: every record field (body last-but-guide when included), in the schema's order."""
    return tuple(name for name in elements() if body or name != "body")


def csv_cells(record: dict[str, Any], columns: Iterable[str]) -> list[str]:
    """One CSV row: keywords joined by 、, a guide's materials and steps one per line (how the CSV importer
    reads them back), numbers as text, a missing field empty."""
    cells = []
    for name in columns:
        value = record.get(name, "")
        if isinstance(value, list):
            value = (LIST_JOIN if name == "keywords" else ITEM_JOIN).join(value)
        cells.append(str(value))
    return cells


def jsonl_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
