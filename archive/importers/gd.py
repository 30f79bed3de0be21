"""The provincial government-service portal export (广东政务服务网 办事指南), one JSON object per line.

Recognised by its ``TASK_CODE`` / ``TASK_NAME`` keys.  Each record is mapped to the generic format (a
service guide) and then validated like any other record.  The export writes "无" (none) for empty
values; those become empty fields.  The body is composed from the fields so that a reader, and the
retrieval index, see everything the portal shows.
"""

from __future__ import annotations

import re
from typing import Any

_EMPTY = {"无", "暂无", "无。", "null", "none", "-", "/"}
_LOCATION_PREFIX = re.compile(r"^\s*办理地点[:：]\s*")


def is_gd(data: dict[str, Any]) -> bool:
    return "TASK_CODE" in data and ("TASK_NAME" in data or "matter_name" in data)


def _value(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(v for v in (_value({"v": item}, "v") for item in value) if v)
    text = str(value).strip()
    return "" if text.lower() in _EMPTY else text


def _items(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if isinstance(value, list):
        return [v for v in (_value({"v": item}, "v") for item in value) if v]
    text = _value(data, key)
    return [text] if text else []


def _aliases(data: dict[str, Any], title: str) -> list[str]:
    """Short and everyday names of the item (matter_short, matter_daily) and its catalog name."""
    names: dict[str, None] = {}
    for key in ("matter_short", "matter_daily", "CATANAME", "matter_name"):
        for part in re.split(r"[,，、;；]", _value(data, key)):
            if part.strip() and part.strip() != title:
                names.setdefault(part.strip(), None)
    return list(names)


def _summary(area: str, issuer: str, level: str, genre: str) -> str:
    """E.g. 广东省教育厅办理的省级行政许可事项。 (the area is named only when the issuer does not)."""
    who = issuer if not area or issuer.startswith(area[:2]) else f"{area}{issuer}"
    what = f"{level}{genre}事项" if genre else "政务服务事项"
    return f"{who}办理的{what}。" if who else f"{what}。"


def to_generic(data: dict[str, Any]) -> dict[str, Any]:
    """Map one export record to a generic-format record (type guide)."""
    title = _value(data, "TASK_NAME") or _value(data, "matter_name")
    issuer = _value(data, "DEPT_NAME")
    genre = _value(data, "TASK_TYPE_TEXT") or _value(data, "matter_type")
    location = _LOCATION_PREFIX.sub("", _value(data, "handle_location"))
    materials = _items(data, "material_intro")
    url = _value(data, "URL")
    online = url if _value(data, "ONLINECHECK") == "1" else ""
    level = _value(data, "matter_level") or _value(data, "district")
    area = _value(data, "AREA_CODE_TEXT")
    record: dict[str, Any] = {
        "id": _value(data, "TASK_CODE"),
        "type": "guide",
        "title": title,
        "issuer": issuer,
        "genre": genre,
        "topic": _value(data, "theme_category"),
        "audience": _value(data, "service_object_name"),
        "keywords": _aliases(data, title),
        "url": url,
        "online_url": online,
        "location": location,
        "time_limit_legal": _value(data, "handle_time"),
        "time_limit_promised": _value(data, "handle_time_limit"),
        "conditions": _value(data, "accept_standard"),
        "materials": materials,
        "phone": _value(data, "consult_phone"),
        "summary": _summary(area, issuer, level, genre),
    }
    visits = _value(data, "visit_number")
    lines = [
        ("事项名称", title),
        ("实施机关", issuer),
        ("事项类型", genre),
        ("行使层级", level),
        ("服务对象", record["audience"]),
        ("主题分类", record["topic"]),
        ("受理条件", record["conditions"]),
        ("办理材料", "；".join(f"{n}. {m}" for n, m in enumerate(materials, 1))),
        ("办理地点", location),
        ("法定办结时限", record["time_limit_legal"]),
        ("承诺办结时限", record["time_limit_promised"]),
        ("到办事现场次数", f"{visits}次" if visits else ""),
        ("联办机构", _value(data, "co_department")),
        ("咨询电话", record["phone"]),
        ("监督投诉电话", _value(data, "complain_phone")),
        ("物流快递", _value(data, "courier_service")),
        ("网上办理平台", _value(data, "bear_paltform")),
        ("网上预约", _value(data, "online_book_addr")),
        ("网上办理", online),
    ]
    record["body"] = "\n".join(f"{label}：{value}" for label, value in lines if value)
    return record
