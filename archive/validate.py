"""Turn one raw imported record (a dict in the generic format) into a Document or an Application.

Every rule failure raises ``RecordError`` with a stable reason code (see docs/import-format.md) and a
message naming the field, so an import can report file, line and reason and carry on.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from archive.models import Application, DocType, Document, Status, StepEvent
from core.errors import InvalidInput

# Reason codes, in the order the docs list them.
MALFORMED = "malformed"  # a line that is not a JSON object, an unreadable row
MISSING_ID = "missing_id"
MISSING_TITLE = "missing_title"
MISSING_BODY = "missing_body"
BAD_DATE = "bad_date"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_STATUS = "unknown_status"
DUPLICATE_ID = "duplicate_id"
OVERSIZE_BODY = "oversize_body"
BAD_FIELD = "bad_field"  # a field of the wrong shape (e.g. keywords is a number, phone_last4 not 4 digits)

DOC_DATE_FIELDS = ("issued_on", "valid_from", "valid_until")
DOC_LIST_FIELDS = ("keywords", "materials", "steps", "extracted")
DOC_TEXT_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in fields(Document)
    if f.name not in {*DOC_DATE_FIELDS, *DOC_LIST_FIELDS, "type", "status", "version", "updated_at", "source"}
)
APP_STATES = frozenset({"in_progress", "completed", "rejected", "needs_more"})

_KEYWORD_SPLIT = re.compile(r"[,，、;；\n]+")
_ITEM_SPLIT = re.compile(r"\s*(?:\n|；|;|\|)\s*")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"),
)
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:Z|[+-]\d{2}:?\d{2})?)?$")


class RecordError(InvalidInput, ValueError):
    """One record breaks a rule; ``reason`` is a stable code, the message says what is wrong."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def normalize_date(value: Any, name: str = "date") -> str:
    """ISO yyyy-mm-dd from yyyy-mm-dd, yyyy/mm/dd, yyyy.mm.dd or yyyy年m月d日; "" stays ""."""
    if value is None:
        return ""
    text = str(value).strip()
    if not text:
        return ""
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                break
    raise RecordError(BAD_DATE, f"{name}: {text!r} is not a valid date (use yyyy-mm-dd)")


def normalize_datetime(value: Any, name: str) -> str:
    """An ISO date or date-time (``2024-05-01``, ``2024-05-01T09:30``); other date forms are normalised."""
    text = str(value or "").strip()
    match = _DATETIME.match(text)
    if match:
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
            return text
        except ValueError:
            pass
    return normalize_date(text, name)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "、".join(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, dict | list):
        raise RecordError(BAD_FIELD, f"{name}: expected text, got {type(value).__name__}")
    return str(value).strip()


def split_list(value: Any, name: str, keywords: bool = False) -> list[str]:
    """A list field from a JSON list or a separated string (keywords: , ， 、 ; ；  items: newline ; ； |)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = (_KEYWORD_SPLIT if keywords else _ITEM_SPLIT).split(value)
    elif isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise RecordError(BAD_FIELD, f"{name}: list items must be text")
        parts = [str(v) for v in value]
    else:
        raise RecordError(BAD_FIELD, f"{name}: expected a list or a separated string")
    seen: dict[str, None] = {}
    for part in parts:
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def document_from_record(data: dict[str, Any], source: str = "", max_body_chars: int = 200_000) -> Document:
    """Validate one generic-format record and build its Document (unknown keys are ignored)."""
    doc_id = _text(data.get("id"), "id")
    if not doc_id:
        raise RecordError(MISSING_ID, "id is missing or empty")
    title = _text(data.get("title"), "title")
    if not title:
        raise RecordError(MISSING_TITLE, "title is missing or empty")
    body = data.get("body")
    body = body.strip() if isinstance(body, str) else _text(body, "body")
    if not body:
        raise RecordError(MISSING_BODY, "body is missing or empty")
    if len(body) > max_body_chars:
        raise RecordError(OVERSIZE_BODY, f"body has {len(body)} characters; the limit is {max_body_chars}")
    raw_type = _text(data.get("type"), "type").lower() or DocType.POLICY.value
    try:
        doc_type = DocType(raw_type)
    except ValueError:
        allowed = "|".join(t.value for t in DocType)
        raise RecordError(UNKNOWN_TYPE, f"type {raw_type!r} is not one of {allowed}") from None
    raw_status = _text(data.get("status"), "status").lower() or Status.PUBLISHED.value
    try:
        status = Status(raw_status)
    except ValueError:
        allowed = "|".join(s.value for s in Status)
        raise RecordError(UNKNOWN_STATUS, f"status {raw_status!r} is not one of {allowed}") from None
    values: dict[str, Any] = {name: normalize_date(data.get(name), name) for name in DOC_DATE_FIELDS}
    if values["valid_from"] and values["valid_until"] and values["valid_until"] < values["valid_from"]:
        raise RecordError(BAD_DATE, f"valid_until {values['valid_until']} is before valid_from")
    for name in DOC_LIST_FIELDS:
        values[name] = split_list(data.get(name), name, keywords=name == "keywords")
    for name in DOC_TEXT_FIELDS:
        values[name] = _text(data.get(name), name)
    values.update(id=doc_id, title=title, body=body, type=doc_type, status=status)
    return Document(**values, source=source)


def mask_name(name: str) -> str:
    """张三 → 张*, 张小明 → 张*明, Alice → A***e; names already containing * are kept."""
    name = name.strip()
    if not name or "*" in name or "＊" in name:
        return name
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def application_from_record(data: dict[str, Any]) -> tuple[Application, str]:
    """Validate one application record; returns the Application and its phone_last4 ("" when absent)."""
    app_no = _text(data.get("app_no"), "app_no")
    if not app_no:
        raise RecordError(MISSING_ID, "app_no is missing or empty")
    item = _text(data.get("item"), "item")
    if not item:
        raise RecordError(MISSING_TITLE, "item is missing or empty")
    last4 = _text(data.get("phone_last4"), "phone_last4")
    if last4 and not re.fullmatch(r"\d{4}", last4):
        raise RecordError(BAD_FIELD, f"phone_last4 {last4!r} is not four digits")
    state = _text(data.get("state"), "state") or "in_progress"
    if state not in APP_STATES:
        raise RecordError(BAD_FIELD, f"state {state!r} is not one of {'|'.join(sorted(APP_STATES))}")
    raw_history = data.get("history") or []
    if not isinstance(raw_history, list) or not all(isinstance(e, dict) for e in raw_history):
        raise RecordError(BAD_FIELD, "history must be a list of {step, at, note} objects")
    history = []
    for n, event in enumerate(raw_history, 1):
        step = _text(event.get("step"), f"history[{n}].step")
        if not step:
            raise RecordError(BAD_FIELD, f"history[{n}] has no step")
        at = normalize_datetime(event.get("at"), f"history[{n}].at")
        history.append(StepEvent(step=step, at=at, note=_text(event.get("note"), f"history[{n}].note")))
    app = Application(
        app_no=app_no,
        item=item,
        guide_id=_text(data.get("guide_id"), "guide_id"),
        applicant_masked=mask_name(_text(data.get("applicant", data.get("applicant_masked")), "applicant")),
        submitted_on=normalize_date(data.get("submitted_on"), "submitted_on"),
        current_step=_text(data.get("current_step"), "current_step") or (history[-1].step if history else ""),
        state=state,
        expected_by=normalize_date(data.get("expected_by"), "expected_by"),
        history=history,
    )
    return app, last4
