"""The archive's record types: one government document to the catalog standard, and one application (办件).

These dataclasses are the contract between the importers, the archive store, retrieval, the dialogue
actions and the consoles.  Field names match the generic JSONL import format (docs/import-format.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class DocType(StrEnum):
    POLICY = "policy"  # 政策文件
    GUIDE = "guide"  # 办事指南
    FAQ = "faq"  # 常见问答


class Status(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    EXPIRED = "expired"
    ABOLISHED = "abolished"


# Allowed lifecycle moves. An expired or abolished document can be republished (e.g. validity extended).
TRANSITIONS: dict[Status, set[Status]] = {
    Status.DRAFT: {Status.REVIEW, Status.PUBLISHED},
    Status.REVIEW: {Status.DRAFT, Status.PUBLISHED},
    Status.PUBLISHED: {Status.EXPIRED, Status.ABOLISHED, Status.REVIEW},
    Status.EXPIRED: {Status.PUBLISHED, Status.ABOLISHED},
    Status.ABOLISHED: {Status.PUBLISHED},
}

# Structured fields a citizen needs from a service guide (办事指南), in display order.
GUIDE_FIELDS: tuple[str, ...] = (
    "materials",  # 办理材料: list[str]
    "location",  # 办理地点
    "hours",  # 办公时间
    "fees",  # 收费
    "time_limit_legal",  # 法定时限
    "time_limit_promised",  # 承诺时限
    "steps",  # 办理流程: list[str]
    "conditions",  # 受理条件
    "phone",  # 咨询电话
    "online_url",  # 网上办理
)
GUIDE_LIST_FIELDS = frozenset({"materials", "steps"})


@dataclass
class Document:
    """One document with the catalog elements (政府信息公开目录) and, for guides, the structured fields."""

    id: str
    title: str  # 名称
    body: str
    type: DocType = DocType.POLICY
    index_no: str = ""  # 索引号
    issuer: str = ""  # 发文机关
    doc_no: str = ""  # 文号
    issued_on: str = ""  # 发文日期, ISO yyyy-mm-dd
    keywords: list[str] = field(default_factory=list)  # 关键词
    summary: str = ""  # 内容概述
    valid_from: str = ""  # 有效期 from, ISO date or ""
    valid_until: str = ""  # 有效期 until, ISO date or "" (open-ended)
    topic: str = ""  # 主题分类
    genre: str = ""  # 体裁分类
    audience: str = ""  # 服务对象分类
    url: str = ""  # 在线链接
    status: Status = Status.PUBLISHED
    status_reason: str = ""  # why expired / abolished
    replaced_by: str = ""  # id of the document that replaces this one
    # service-guide fields (empty for other types)
    materials: list[str] = field(default_factory=list)
    location: str = ""
    hours: str = ""
    fees: str = ""
    time_limit_legal: str = ""
    time_limit_promised: str = ""
    steps: list[str] = field(default_factory=list)
    conditions: str = ""
    phone: str = ""
    online_url: str = ""
    # provenance of a document shared by another instance (四级资源共享); all empty for this instance's own
    origin: str = ""  # the peer instance it came from (its name in `civic peers`)
    origin_level: str = ""  # that instance's level: national | province | city | county
    origin_id: str = ""  # the document's id on that instance
    # catalog elements an importer read out of the text, not from given metadata (a reviewer checks them)
    extracted: list[str] = field(default_factory=list)
    # bookkeeping, set by the archive
    version: int = 0
    updated_at: str = ""
    source: str = ""  # file the record was imported from

    # Fields whose change makes a new version (bookkeeping excluded).
    @staticmethod
    def content_fields() -> tuple[str, ...]:
        return tuple(f for f in Document.__dataclass_fields__ if f not in {"version", "updated_at", "source"})

    def content(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: data[k] for k in self.content_fields()}

    def guide_fields(self) -> dict[str, Any]:
        """The non-empty structured guide fields, in display order."""
        return {k: getattr(self, k) for k in GUIDE_FIELDS if getattr(self, k)}

    def is_current(self, today: str) -> bool:
        """Published and inside its validity window on ``today`` (ISO date)."""
        if self.status != Status.PUBLISHED:
            return False
        if self.valid_from and today < self.valid_from:
            return False
        return not (self.valid_until and today > self.valid_until)


@dataclass
class StepEvent:
    step: str
    at: str  # ISO datetime
    note: str = ""


@dataclass
class Application:
    """An application for a service (办件), as the status check sees it.

    Personal data is stored masked; the phone is kept only as its last four digits' salted hash.
    """

    app_no: str  # e.g. HD2024...
    item: str  # service item name (matches a guide title)
    guide_id: str = ""
    applicant_masked: str = ""  # 张*明
    submitted_on: str = ""
    current_step: str = ""
    state: str = "in_progress"  # in_progress | completed | rejected | needs_more
    expected_by: str = ""
    history: list[StepEvent] = field(default_factory=list)
    phone_hash: str = ""
