"""Rendering the dialogue's messages for the messaging channels (Telegram HTML, WeChat plain text).

A message (``app/messages.py``: text, buttons, card, citations) becomes :class:`Line` s, each with its plain
text (what the citizen sees, which is what the channels' length limits count) and its HTML (Telegram; every
value escaped, links only for http(s) URLs).  A line never spans a tag, so lines can be packed into chunks
that each fit a channel's limit (:func:`pack`).  A guide card only restates what the message text already
lists for text channels (the web chat shows it as a table), so it contributes its title; citations become
lines with links and validity marks.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.texts import text as domain_text

TEXTS_FILE = Path(__file__).with_name("channel_texts.yml")
INACTIVE = {"expired": "status_expired", "abolished": "status_abolished"}


class ChannelTexts:
    """The channels' own texts (``channel_texts.yml``) and, from the domain, the dialogue's welcome."""

    def __init__(self, domain: dict[str, Any] | None = None, path: Path = TEXTS_FILE) -> None:
        self.domain = domain or {}
        self.texts: dict[str, dict[str, str]] = yaml.safe_load(path.read_text(encoding="utf-8"))

    def say(self, name: str, lang: str | None, **values: Any) -> str:
        variants = self.texts.get(name) or {}
        template = variants.get(lang or "zh") or variants.get("zh") or name
        return template.format(**values) if values else template

    def greet(self, lang: str | None) -> str:
        """The dialogue's welcome (utter_greet: what the assistant can do)."""
        return domain_text(self.domain, "utter_greet", lang) or self.say("help", lang)


@dataclass(frozen=True)
class Line:
    text: str  # as the citizen sees it
    html: str  # Telegram HTML

    @classmethod
    def plain(cls, text: str, bold: bool = False) -> Line:
        escaped = html.escape(text, quote=False)
        return cls(text, f"<b>{escaped}</b>" if bold else escaped)


def safe_url(url: object) -> str:
    value = str(url or "").strip()
    return value if value.startswith(("https://", "http://")) and " " not in value else ""


def _link(title: str, url: str) -> Line:
    href = safe_url(url)
    if not href:
        return Line.plain(title)
    return Line(title, f'<a href="{html.escape(href, quote=True)}">{html.escape(title, quote=False)}</a>')


def citation_lines(citations: Iterable[dict[str, Any]], texts: ChannelTexts, lang: str,
                   urls_inline: bool = False) -> list[Line]:
    """One line per citation: title (linked), 文号, issuer, date, the issuing instance of a shared document
    (「来源：示范省人民政府」), and a mark when it is no longer valid.
    ``urls_inline`` writes the address after the title (a channel without HTML links)."""
    out: list[Line] = []
    for c in citations:
        title = str(c.get("title") or c.get("id") or "")
        meta = [f"{texts.say('doc_no', lang)} {c['doc_no']}" if c.get("doc_no") else "",
                str(c.get("issuer") or ""), str(c.get("issued_on") or ""),
                f"{texts.say('origin', lang)}{c['origin']}" if c.get("origin") else ""]
        flag = INACTIVE.get(str(c.get("status") or ""))
        if flag is None and c.get("is_current") is False and c.get("status") == "published":
            flag = "status_lapsed"
        tail = "（" + " · ".join(m for m in meta if m) + "）" if any(meta) else ""
        mark = f" ⚠ {texts.say(flag, lang)}" if flag else ""
        url = safe_url(c.get("url"))
        head = _link(title, url)
        if urls_inline and url:
            head = Line.plain(f"{title} {url}")
        rest = Line.plain(tail + mark)
        out.append(Line("📄 " + head.text + rest.text, "📄 " + head.html + rest.html))
        sup = c.get("superseded_by")
        if flag and isinstance(sup, dict) and sup.get("title"):
            label = str(sup["title"]) + (f"（{sup['doc_no']}）" if sup.get("doc_no") else "")
            link = Line.plain(f"{label} {safe_url(sup.get('url'))}".strip()) if urls_inline \
                else _link(label, str(sup.get("url") or ""))
            prefix = Line.plain("   " + texts.say("superseded", lang))
            out.append(Line(prefix.text + link.text, prefix.html + link.html))
    return out


def message_lines(message: dict[str, Any], texts: ChannelTexts, lang: str, urls_inline: bool = False
                  ) -> list[Line]:
    """One dialogue message as lines (its buttons are the channel's business)."""
    lines: list[Line] = []
    body = str(message.get("text") or "")
    card = message.get("card") or {}
    title = str(card.get("title") or "") if isinstance(card, dict) and card.get("type") == "guide" else ""
    if title and title not in body:
        lines.append(Line.plain(title, bold=True))
    lines.extend(Line.plain(t) for t in body.split("\n"))
    citations = [c for c in message.get("citations") or [] if isinstance(c, dict)]
    if citations:
        lines.append(Line.plain(texts.say("sources", lang) + "：", bold=True))
        lines.extend(citation_lines(citations, texts, lang, urls_inline))
    return lines


def hard_split(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` (as ``measure`` counts), at character boundaries."""
    pieces, current = [], ""
    for ch in text:
        if current and measure(current + ch) > limit:
            pieces.append(current)
            current = ""
        current += ch
    return [*pieces, current] if current else pieces


def pack(lines: list[Line], limit: int, measure: Callable[[str], int] = len) -> list[list[Line]]:
    """Lines packed in order into chunks whose text, joined by newlines, measures at most ``limit``; a line
    longer than that is cut (its HTML is then its escaped text)."""
    chunks: list[list[Line]] = []
    current: list[Line] = []
    size = 0
    for line in lines:
        pieces = [line] if measure(line.text) <= limit else [Line.plain(p)
                                                             for p in hard_split(line.text, limit, measure)]
        for piece in pieces:
            extra = measure(piece.text) + (measure("\n") if current else 0)
            if current and size + extra > limit:
                chunks.append(current)
                current, size = [], 0
                extra = measure(piece.text)
            current.append(piece)
            size += extra
    if current:
        chunks.append(current)
    return chunks


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))
