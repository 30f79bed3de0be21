"""The names a citizen uses for a service: its title, the title without its parenthetical, its keywords.

Shared by the training-data generator (synonyms, lookup table, jieba dictionary) and the guide lookup of
the actions, so that what NLU learns and what the actions resolve agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from archive.models import Document

_PAREN = re.compile(r"[（(][^）)]*[）)]")


def short_title(title: str) -> str:
    """「新生儿出生登记（上户口）」 -> 「新生儿出生登记」."""
    return _PAREN.sub("", title).strip() or title


def names(doc: Document) -> list[str]:
    """Every name of ``doc``, title first, without duplicates or one-character names."""
    inner = [m.strip("（）() ") for m in _PAREN.findall(doc.title)]
    candidates = [doc.title, short_title(doc.title), *doc.keywords, *(i for i in inner if "、" not in i)]
    seen: dict[str, None] = {}
    for name in candidates:
        name = name.strip()
        if len(name) >= 2 and name not in seen:
            seen[name] = None
    return list(seen)


def aliases(docs: Iterable[Document]) -> dict[str, str]:
    """Name -> title for every name that belongs to exactly one document (shared names are ambiguous)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        for name in names(doc):
            owners[name].add(doc.title)
    return {name: next(iter(titles)) for name, titles in owners.items() if len(titles) == 1}
