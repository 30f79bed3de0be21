"""HTML pages: title from the first <h1> (else <title>), catalog fields from <meta name=...>, body = the
visible text.

Meta names are the generic field names (``issuer``, ``doc_no``, ``issued_on`` …); the common names used by
Chinese government sites are understood too (ArticleTitle, PubDate, ContentSource, Keywords, Description).
Without an ``id`` meta the file name (without extension) is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from archive.importers.base import RawRecord

_META_ALIASES = {
    "articletitle": "title",
    "pubdate": "issued_on",
    "firstpublishedtime": "issued_on",
    "contentsource": "issuer",
    "description": "summary",
    "keywords": "keywords",
}
_INVISIBLE = "script, style, noscript, template, head, nav, header, footer"


def _visible_text(tree: HTMLParser) -> str:
    for node in tree.css(_INVISIBLE):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    if root is None:
        return ""
    text = root.text(separator="\n", strip=True)
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def read(text: str, path: Path) -> Iterator[RawRecord]:
    tree = HTMLParser(text)
    data: dict[str, Any] = {}
    for meta in tree.css("meta[name]"):
        name = (meta.attributes.get("name") or "").strip()
        content = (meta.attributes.get("content") or "").strip()
        if not name or not content:
            continue
        key = _META_ALIASES.get(name.lower(), name)
        if key == "issued_on":
            content = content[:10]
        data.setdefault(key, content)
    if not data.get("title"):
        for selector in ("h1", "title"):
            node = tree.css_first(selector)
            if node is not None and node.text(strip=True):
                data["title"] = node.text(strip=True)
                break
    data.setdefault("id", path.stem)
    data["body"] = _visible_text(tree)
    yield RawRecord(1, data)
