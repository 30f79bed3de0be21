"""Split archive documents into passages by their structure, not by a blind window.

* **Service guides** (办事指南): an overview passage (summary or body) and one passage per structured
  field — materials, location, hours, fees, time limits, steps, conditions, phone, online — each labelled
  (办理材料：…) and, for the indexes, prefixed with the guide's title and keywords so it stands on its own.
* **Policies** (政策文件): one passage per article or section, found from the headings civil-service
  documents use (第一条 / 第一章 / 一、/ （一）/ markdown #); a section longer than ``MAX_CHARS`` is cut at
  sentence ends into pieces that overlap by about ``OVERLAP`` characters; very short sections are merged
  with the next one.
* **FAQs** (常见问答): question (the title) + answer; a long answer is cut like a long section, each piece
  keeping the question in front.

Every passage carries the document id, the field name and the catalog metadata used by filters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from archive.models import GUIDE_FIELDS, GUIDE_LIST_FIELDS, DocType, Document, Status
from retrieval.types import Passage

MAX_CHARS = 600  # a passage longer than this is cut
OVERLAP = 100  # characters repeated between consecutive pieces of one long section
MIN_SECTION = 20  # shorter sections (a lone chapter heading) are merged into the next one

FIELD_LABELS: dict[str, str] = {
    "overview": "概述",
    "materials": "办理材料",
    "location": "办理地点",
    "hours": "办公时间",
    "fees": "收费标准",
    "time_limit_legal": "法定办结时限",
    "time_limit_promised": "承诺办结时限",
    "steps": "办理流程",
    "conditions": "受理条件",
    "phone": "咨询电话",
    "online_url": "网上办理",
}
assert set(GUIDE_FIELDS) <= set(FIELD_LABELS)

_NUM = "一二三四五六七八九十百零〇两0-9０-９"
_HEADING = re.compile(
    rf"^\s*(?:第[{_NUM}]+[条章节款部分]|[{_NUM}]+[、.．]\s*\S|[（(][{_NUM}]+[)）]|#{{1,6}}\s)"
)
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


def chunk(text: str, max_chars: int = MAX_CHARS, overlap: int = OVERLAP) -> list[str]:
    """Cut ``text`` at sentence ends into pieces of at most ``max_chars`` that overlap by ~``overlap``."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > max_chars:  # one enormous sentence: hard cut
            head, sentence = sentence[:max_chars], sentence[max_chars - overlap :]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if current and len(current) + len(sentence) > max_chars:
            pieces.append(current)
            tail = current[-overlap:] if overlap else ""
            # start the overlap at a sentence boundary inside the tail when there is one
            cut = max(tail[:-1].rfind(c) for c in "。！？；!?;\n")
            current = (tail[cut + 1 :] if cut >= 0 else tail) + sentence
        else:
            current += sentence
    if current.strip():
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def sections(body: str) -> list[str]:
    """The body cut at headings; short sections merged into the following one."""
    found: list[str] = []
    current: list[str] = []
    for line in body.splitlines():
        if _HEADING.match(line) and current and "".join(current).strip():
            found.append("\n".join(current).strip())
            current = []
        current.append(line)
    if "".join(current).strip():
        found.append("\n".join(current).strip())
    merged: list[str] = []
    carry = ""
    for sec in found:
        sec = f"{carry}\n{sec}" if carry else sec
        if len(sec) < MIN_SECTION:
            carry = sec
            continue
        merged.append(sec)
        carry = ""
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]}\n{carry}"
        else:
            merged.append(carry)
    return merged


def _field_text(doc: Document, name: str) -> str:
    value = getattr(doc, name)
    if name in GUIDE_LIST_FIELDS:
        items = [str(v).strip() for v in value if str(v).strip()]
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    return str(value).strip()


def _header(doc: Document) -> str:
    keywords = " ".join(k for k in doc.keywords if k)
    return f"{doc.title} {keywords}".strip()


def _pieces(doc: Document) -> Iterator[tuple[str, str, str]]:
    """(field, shown text, text for the indexes) in document order."""
    header = _header(doc)
    if doc.type == DocType.GUIDE:
        overview = doc.summary.strip() or doc.body.strip()
        for piece in chunk(overview) or [doc.title]:
            yield "overview", piece, f"{header}\n{piece}"
        for name in GUIDE_FIELDS:
            text = _field_text(doc, name)
            if not text:
                continue
            label = FIELD_LABELS[name]
            for piece in chunk(text):
                yield name, f"{label}：{piece}", f"{header}\n{label} {piece}"
    elif doc.type == DocType.FAQ:
        for piece in chunk(doc.body) or [""]:
            yield "faq", piece, f"{header}\n{piece}"
    else:
        secs = sections(doc.body) or [doc.summary or doc.title]
        for sec in secs:
            for piece in chunk(sec):
                yield "section", piece, f"{header}\n{piece}"


NAME_MARK = "@"  # a name's dense id is "<doc_id>@t" (the title) or "<doc_id>@k<n>" (keyword n)
SHARED_TITLE = 3  # a title this many documents share is a heading ("…常见问答"), not a name


def names(doc: Document, shared: Collection[str] = ()) -> list[tuple[str, str, str]]:
    """(dense id, kind, text) of what a citizen's question may look like for ``doc``: its title (a guide's
    service name, an FAQ's question, a policy's title) unless many documents share it, and each keyword
    (colloquial names, English names), for question-to-question matching on the dense side."""
    out: list[tuple[str, str, str]] = []
    title = doc.title.strip()
    if title and title not in shared:
        out.append((f"{doc.id}{NAME_MARK}t", "title", title))
    seen = {title}
    for n, keyword in enumerate(doc.keywords):
        keyword = keyword.strip()
        if len(keyword) >= 2 and keyword not in seen:
            seen.add(keyword)
            out.append((f"{doc.id}{NAME_MARK}k{n}", "keyword", keyword))
    return out


def name_owner(dense_id: str) -> tuple[str, str] | None:
    """(document id, kind) of a name's dense id; None for a passage id."""
    doc_id, mark, rest = dense_id.rpartition(NAME_MARK)
    if not mark or not rest:
        return None
    return doc_id, "title" if rest == "t" else "keyword"


def shared_titles(titles: Iterable[str]) -> set[str]:
    from collections import Counter

    counts = Counter(t.strip() for t in titles)
    return {t for t, n in counts.items() if n >= SHARED_TITLE}


def split(doc: Document) -> list[Passage]:
    """The passages of one document, numbered ``<doc_id>#0``, ``#1``…"""
    return [
        Passage(
            id=f"{doc.id}#{n}",
            doc_id=doc.id,
            field=name,
            text=text,
            index_text=index_text,
            title=doc.title,
            doc_type=doc.type,
            issuer=doc.issuer,
            topic=doc.topic,
            audience=doc.audience,
            issued_on=doc.issued_on,
            status=doc.status,
        )
        for n, (name, text, index_text) in enumerate(_pieces(doc))
    ]


def split_all(docs: Iterable[Document]) -> list[Passage]:
    out: list[Passage] = []
    for doc in docs:
        out.extend(split(doc))
    return out


def save(passages: Iterable[Passage], path: Path, extra: dict[str, dict[str, object]] | None = None) -> None:
    """Write passages as JSON lines; ``extra[pid]`` adds keys to a passage's line (e.g. a dense weight)."""
    with open(path, "w", encoding="utf-8") as fh:
        for p in passages:
            rec: dict[str, object] = asdict(p)
            rec.pop("highlight", None)
            if extra and p.id in extra:
                rec["extra"] = extra[p.id]
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def load(path: Path) -> tuple[list[Passage], dict[str, dict[str, object]]]:
    passages: list[Passage] = []
    extra: dict[str, dict[str, object]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            more = rec.pop("extra", None)
            rec["doc_type"] = DocType(rec["doc_type"])
            rec["status"] = Status(rec["status"])
            passages.append(Passage(**rec))
            if more:
                extra[rec["id"]] = more
    return passages, extra
