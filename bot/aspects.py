"""The parts of a service guide a citizen asks about, how to spot them in a question, and how a guide's
field is laid out in a reply (layout only: every word shown to a citizen comes from domain.yml).
"""

from __future__ import annotations

import re

from archive.models import Document

# aspect code -> guide fields it shows (display order of the buttons follows this dict)
ASPECT_FIELDS: dict[str, tuple[str, ...]] = {
    "materials": ("materials",),
    "fees": ("fees",),
    "time_limit": ("time_limit_legal", "time_limit_promised"),
    "location": ("location",),
    "hours": ("hours",),
    "steps": ("steps",),
    "conditions": ("conditions",),
    "online": ("online_url",),
    "phone": ("phone",),
}

# Cues that name an aspect when the NLU did not tag one (simplified and traditional forms, English).
_CUES: dict[str, tuple[str, ...]] = {
    "fees": ("多少钱", "多少錢", "费用", "費用", "收费", "收費", "要钱", "要錢", "免费", "免費", "工本费",
             "how much", "cost", "fee", "price"),
    "time_limit": ("多久", "多长时间", "多長時間", "几天", "幾天", "时限", "時限", "多快", "什么时候能",
                   "how long", "processing time"),
    "location": ("在哪", "哪里办", "哪裡辦", "去哪", "地址", "地点", "地點", "哪个窗口", "where"),
    "hours": ("几点", "幾點", "办公时间", "辦公時間", "上班时间", "周末", "週末", "开门", "開門",
              "opening hours", "open on"),
    "materials": ("材料", "资料", "資料", "带啥", "帶啥", "带什么", "帶什麼", "证件", "證件", "准备什么",
                  "準備什麼", "document", "bring", "paperwork"),
    "steps": ("流程", "步骤", "步驟", "怎么办理", "怎麼辦理", "手续", "手續", "steps", "procedure",
              "process"),
    "conditions": ("条件", "條件", "资格", "資格", "能不能办", "可以申请", "符合", "eligib", "qualif"),
    "online": ("网上", "網上", "线上", "線上", "在线", "在線", "手机上", "online", "网办"),
    "phone": ("电话", "電話", "热线", "熱線", "phone", "call"),
}

_FILLER = re.compile(
    r"[\s，。？！?!,.、：:；;“”\"'（）()\[\]{}]|那个|那麼|那么|请问|請問|一下|这个|這個|的话|的|了|吗|嗎|呢|啊|呀|吧|那|要|得|还|還|是"
)
# verbs citizens put around a service name (办理居住证, 申领社保卡); stripped before matching item names
SERVICE_VERBS = re.compile("办理|申请|申领|补办|办|领取|手续")
_EN_FILLER = frozenset({
    "a", "an", "the", "is", "it", "does", "do", "i", "we", "you", "my", "me", "to", "for", "of",
    "and", "or", "what", "how", "much", "long", "where", "when", "can", "will", "be", "need",
    "needed", "get", "take", "takes", "there", "this", "that", "please", "apply",
})


def detect_aspect(text: str) -> str | None:
    lowered = text.lower()
    for aspect, cues in _CUES.items():
        if any(cue in lowered for cue in cues):
            return aspect
    return None


def residual(text: str) -> str:
    """What is left of a question once aspect cues and filler are removed (empty for 「那要多少钱？」)."""
    lowered = text.lower()
    for cues in _CUES.values():
        for cue in cues:
            lowered = lowered.replace(cue, " ")
    words = [w for w in re.findall(r"[a-z]+", lowered) if w not in _EN_FILLER]
    cjk = _FILLER.sub("", re.sub(r"[a-z0-9]+", "", lowered))
    return cjk + " ".join(words)


def is_follow_up(text: str) -> bool:
    """A question that names no service of its own, so it refers to the one in context."""
    return len(residual(text)) <= 1


def available(doc: Document) -> list[str]:
    """Aspects this guide has something to say about, in display order."""
    return [a for a, fields in ASPECT_FIELDS.items() if any(getattr(doc, f) for f in fields)]


def checklist(items: list[str]) -> str:
    return "\n".join(f"☐ {i}. {item}" for i, item in enumerate(items, 1))


def numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
