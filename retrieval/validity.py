"""Which documents a search may show, given whether each is still in force (the current-document policy).

A citizen is shown current documents only, with one exception: when the best match is expired or abolished,
it is kept first (its hit names its replacement, ``retrieval.citations``), so the answer can say that the
rules changed.  Before that, a current document that nearly ties a not-current best match moves ahead of it:
someone asking for 「居住证管理办法」 wants the rules in force, not the abolished ones of the same title that
happen to score a little higher; a clear win of the old document (its 文号 asked for) stays.
Status and validity are read from the archive at answer time, so a status change is honoured at once.
A document shared by a peer that is switched off (``archive.peers.hidden_origins``) is never shown; it stays
in the archive and the index, and shows again when the peer is switched back on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archive.models import Document
from archive.peers import hidden_origins
from retrieval.lifecycle import INDEXED
from retrieval.ranking import DocScore


def current_first(archive: Any, ranked: list[DocScore], today: str, tie: float) -> list[DocScore]:
    """Move the best current document ahead of a not-current top match that it nearly ties (within
    ``tie`` of its score)."""
    top = archive.find(ranked[0].doc_id)
    if top is None or top.is_current(today):
        return ranked
    hidden = hidden_origins(archive)
    for i, scored in enumerate(ranked[1:], start=1):
        if scored.score < tie * ranked[0].score:
            break
        doc = archive.find(scored.doc_id)
        if doc is not None and doc.status in INDEXED and doc.is_current(today) and doc.origin not in hidden:
            return [scored, *ranked[:i], *ranked[i + 1:]]
    return ranked


def shown(archive: Any, ranked: list[DocScore], today: str,
          include_inactive: bool) -> Iterator[tuple[int, DocScore, Document, bool]]:
    """(rank, scored, document, is current) for every document that may be shown, best first: documents
    no longer indexed are skipped, and a not-current one is shown only as the very first (unless
    ``include_inactive``)."""
    first = True
    hidden = hidden_origins(archive)
    for rank, scored in enumerate(ranked):
        doc = archive.find(scored.doc_id)
        if doc is None or doc.status not in INDEXED or (doc.origin and doc.origin in hidden):
            continue
        current = doc.is_current(today)
        if not current and not include_inactive and (rank > 0 or not first):
            continue
        first = False
        yield rank, scored, doc, current
