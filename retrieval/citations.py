"""Citations and validity: what a hit must tell a citizen about its source, and where a superseded
document's replacement is."""

from __future__ import annotations

from typing import Any

from archive.models import Document, Status
from archive.peers import origin_label
from retrieval.types import Citation

MAX_CHAIN = 10  # replaced_by links followed at most (a cycle in bad data must not hang a search)


def replacement(archive: Any, doc: Document, today: str) -> Document | None:
    """The document that replaces ``doc``, following ``replaced_by`` links to the first current one.

    When the chain ends without a current document, the last document reached is returned (it is still the
    most recent word on the matter); None when ``doc`` names no replacement.
    """
    seen = {doc.id}
    current = doc
    last: Document | None = None
    for _ in range(MAX_CHAIN):
        nxt_id = current.replaced_by.strip()
        if not nxt_id or nxt_id in seen:
            break
        nxt = archive.find(nxt_id)
        if nxt is None or nxt.status in (Status.DRAFT, Status.REVIEW):
            break
        seen.add(nxt_id)
        last = current = nxt
        if nxt.is_current(today):
            return nxt
    return last


def cite(archive: Any, doc: Document, today: str) -> Citation:
    """The citation of ``doc``, a shared document's naming the peer it came from by its label."""
    return Citation.of(doc, today, origin_label(archive, doc))


def superseded_citation(archive: Any, doc: Document, today: str) -> Citation | None:
    """For a document that is not current: the citation of its replacement (None when it has none)."""
    if doc.is_current(today):
        return None
    repl = replacement(archive, doc, today)
    return cite(archive, repl, today) if repl is not None else None
