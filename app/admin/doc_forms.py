"""What the documents pages read from a request: the list's filters and the create/edit form.

The form is validated by ``archive.validate.document_from_record`` — the same rule every import follows —
and nothing else: its ``RecordError`` names a field, and the form shows the message next to that field.
Because the validator stops at the first broken rule, :func:`document_from_form` sets the broken field
aside and validates again until the record passes, so every broken field is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from archive.models import GUIDE_FIELDS, GUIDE_LIST_FIELDS, DocType, Document, Status
from archive.store import VALIDITIES, DocQuery
from archive.validate import (
    MISSING_BODY,
    MISSING_ID,
    MISSING_TITLE,
    OVERSIZE_BODY,
    UNKNOWN_STATUS,
    UNKNOWN_TYPE,
    RecordError,
    document_from_record,
    normalize_date,
)
from core.errors import InvalidInput

PAGE_SIZE = 25
MAX_QUERY_CHARS = 200

# Every field a person reads or writes, with its catalog name (政府信息公开目录), in display order.
LABELS: dict[str, str] = {
    "id": "编号 ID",
    "type": "类型 Type",
    "title": "名称 Title",
    "body": "正文 Body",
    "index_no": "索引号 Index number",
    "issuer": "发文机关 Issuing agency",
    "doc_no": "文号 Document number",
    "issued_on": "发文日期 Issued on",
    "keywords": "关键词 Keywords",
    "summary": "内容概述 Summary",
    "valid_from": "有效期起 Valid from",
    "valid_until": "有效期止 Valid until",
    "topic": "主题分类 Topic",
    "genre": "体裁分类 Genre",
    "audience": "服务对象分类 Audience",
    "url": "在线链接 URL",
    "status": "状态 Status",
    "status_reason": "状态原因 Reason",
    "replaced_by": "替代文件 Replaced by",
    "origin": "来源实例 Origin",
    "origin_level": "来源层级 Origin level",
    "origin_id": "来源编号 Origin id",
    "extracted": "自动提取 Extracted elements",
    "materials": "办理材料 Materials",
    "location": "办理地点 Location",
    "hours": "办公时间 Office hours",
    "fees": "收费 Fees",
    "time_limit_legal": "法定时限 Legal time limit",
    "time_limit_promised": "承诺时限 Promised time limit",
    "steps": "办理流程 Steps",
    "conditions": "受理条件 Conditions",
    "phone": "咨询电话 Phone",
    "online_url": "网上办理 Online service",
    "version": "版本 Version",
    "updated_at": "更新时间 Updated at",
    "source": "来源 Source",
}
TYPE_LABELS = {
    DocType.POLICY: "政策文件 policy", DocType.GUIDE: "办事指南 guide", DocType.FAQ: "常见问答 FAQ",
}
STATUS_LABELS = {
    Status.DRAFT: "草稿 draft",
    Status.REVIEW: "审核中 in review",
    Status.PUBLISHED: "已发布 published",
    Status.EXPIRED: "已失效 expired",
    Status.ABOLISHED: "已废止 abolished",
}
VALIDITY_LABELS = {
    "current": "现行有效 current", "expired": "已失效 expired", "abolished": "已废止 abolished",
}

# The form, section by section; lifecycle fields (status, reason, replacement) change only through the
# lifecycle buttons, never through the form.
CATALOG_FIELDS: tuple[str, ...] = (
    "type", "title", "body", "summary", "keywords", "issuer", "doc_no", "index_no", "issued_on",
    "valid_from", "valid_until", "topic", "genre", "audience", "url",
)
FORM_FIELDS: tuple[str, ...] = ("id", *CATALOG_FIELDS, *GUIDE_FIELDS)
LIST_FIELDS = GUIDE_LIST_FIELDS  # one item per line in the form
LONG_FIELDS = frozenset({"body", "summary", "conditions", *GUIDE_LIST_FIELDS})
DATE_FIELDS = frozenset({"issued_on", "valid_from", "valid_until"})
REQUIRED_FIELDS = frozenset({"id", "title", "body"})
HINTS = {
    "id": "Letters, digits, . _ - only; fixed once created.",
    "keywords": "Separated by commas or 、",
    "materials": "One per line",
    "steps": "One per line",
    "valid_until": "Empty: open-ended",
}

_NEW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# fields the validator names at the start of its message ("issued_on: ...", "valid_until 2024-... is ...")
_NAMED = re.compile(r"^([a-z_]+)\b")
_BY_REASON = {
    MISSING_ID: "id", MISSING_TITLE: "title", MISSING_BODY: "body", OVERSIZE_BODY: "body",
    UNKNOWN_TYPE: "type", UNKNOWN_STATUS: "status",
}
_STAND_IN = {"id": "x", "title": "x", "body": "x", "type": DocType.POLICY.value}


@dataclass
class FormResult:
    """What the form made: the document when every field passed, else an error message per field."""

    values: dict[str, str]  # what the person typed, to show the form again
    errors: dict[str, str] = field(default_factory=dict)
    document: Document | None = None


def error_field(exc: RecordError) -> str:
    """The field a validation error is about (``""`` when it names none we know)."""
    if exc.reason in _BY_REASON:
        return _BY_REASON[exc.reason]
    match = _NAMED.match(exc.message)
    return match.group(1) if match and match.group(1) in LABELS else ""


def form_values(form: Mapping[str, Any], base: Document | None = None) -> dict[str, str]:
    """The form's fields as text (a field the form does not send keeps ``base``'s value)."""
    values = document_values(base) if base is not None else {}
    for name in FORM_FIELDS:
        if name in form:
            values[name] = str(form[name]).replace("\r\n", "\n")
    return values


def document_values(doc: Document) -> dict[str, str]:
    """A document as the form shows it: list fields one item per line, keywords joined by 、."""
    values: dict[str, str] = {}
    for name in FORM_FIELDS:
        value = getattr(doc, name)
        if name == "keywords":
            values[name] = "、".join(value)
        elif name in LIST_FIELDS:
            values[name] = "\n".join(value)
        else:
            values[name] = str(value.value if isinstance(value, DocType | Status) else value)
    return values


def _record(values: dict[str, str], lifecycle: Document | None) -> dict[str, Any]:
    record: dict[str, Any] = dict(values)
    for name in LIST_FIELDS:
        # one item per line: a material may itself contain ；, so lines are passed as a list
        record[name] = [line for line in values.get(name, "").split("\n") if line.strip()]
    if lifecycle is None:
        record["status"] = Status.DRAFT.value  # a new document starts as a draft
    else:
        record.update(
            status=lifecycle.status.value, status_reason=lifecycle.status_reason,
            replaced_by=lifecycle.replaced_by,
        )
    return record


def _carried(doc: Document, existing: Document) -> Document:
    """``doc`` as edited, with what the form does not show kept from ``existing``: where it came from (a
    peer's provenance, the imported original file) and the extracted elements the editor left as they were
    (one the editor changed is a person's value now, no longer "extracted — check")."""
    kept = [f for f in existing.extracted if getattr(doc, f, None) == getattr(existing, f, None)]
    return replace(doc, origin=existing.origin, origin_level=existing.origin_level,
                   origin_id=existing.origin_id, source=existing.source or doc.source, extracted=kept)


def document_from_form(
    form: Mapping[str, Any], max_body_chars: int, existing: Document | None = None
) -> FormResult:
    """Validate a create form (``existing`` None: the document starts as a draft) or an edit form (the
    id, status, reason and replacement stay ``existing``'s)."""
    values = form_values(form, existing)
    errors: dict[str, str] = {}
    if existing is None:
        new_id = values.get("id", "").strip()
        if new_id and not _NEW_ID.match(new_id):
            errors["id"] = ("id: use letters, digits, '.', '_' or '-' (at most 64, starting with a letter "
                            "or digit)")
    else:
        values["id"] = existing.id
    record = _record(values, existing)
    for name in errors:
        record[name] = _STAND_IN.get(name, "")
    for _ in range(len(LABELS)):
        try:
            doc = document_from_record(record, source="admin", max_body_chars=max_body_chars)
        except RecordError as exc:
            name = error_field(exc) or "body"
            if name in errors:  # the stand-in did not help: report and stop rather than loop
                break
            errors[name] = exc.message
            record[name] = _STAND_IN.get(name, [] if name in LIST_FIELDS or name == "keywords" else "")
            continue
        if not errors:
            return FormResult(values, document=_carried(doc, existing) if existing else doc)
        break
    return FormResult(values, errors=errors)


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    value = value.strip()
    if value and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _date(value: str, name: str) -> str:
    try:
        return normalize_date(value, name)
    except RecordError as exc:
        raise InvalidInput(exc.message) from exc


@dataclass(frozen=True)
class Listing:
    """The list page's request: its filters, page number and the query string that keeps them."""

    query: DocQuery
    page: int
    values: dict[str, str]


LIST_PARAMS = ("q", "type", "status", "issuer", "topic", "genre", "audience", "issued_from", "issued_to",
               "validity")


def listing_from_query(params: Mapping[str, str], today: str) -> Listing:
    """The list page's GET parameters (every one optional) as a ``DocQuery`` for ``today``."""
    values = {name: str(params.get(name, "")).strip() for name in LIST_PARAMS}
    if len(values["q"]) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search is longer than {MAX_QUERY_CHARS} characters")
    try:
        page = max(1, int(params.get("page") or 1))
    except ValueError as exc:
        raise InvalidInput("page must be a number") from exc
    query = DocQuery(
        text=values["q"],
        type=_choice(values["type"], tuple(t.value for t in DocType), "type"),
        status=_choice(values["status"], tuple(s.value for s in Status), "status"),
        issuer=values["issuer"], topic=values["topic"], genre=values["genre"], audience=values["audience"],
        issued_from=_date(values["issued_from"], "issued_from"),
        issued_to=_date(values["issued_to"], "issued_to"),
        validity=_choice(values["validity"], VALIDITIES, "validity"),
        today=today,
    )
    return Listing(query, page, values)
