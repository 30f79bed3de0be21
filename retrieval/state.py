"""One generation of the index as a search reads it, and the filter masks over it.

An ``IndexState`` is built whole and replaced whole on rebuild or refresh (``retrieval/lifecycle.py``), so
a search that holds one never sees half of a change.  ``mask(filters)`` answers which lexical rows pass a
``Filters`` (type, agency, topic, audience, issue dates); masks are cached because the same filters recur
with every turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.lexical import LexicalIndex
from retrieval.normalize import normalize
from retrieval.types import Filters, Passage

MAX_MASKS = 64


@dataclass
class IndexState:
    passages: list[Passage]
    lexical: LexicalIndex
    dense: Any = None  # retrieval.dense.DenseIndex | None
    fitness: Any = None  # retrieval.fitness.FitnessReport | None
    dense_weight: dict[str, float] = field(default_factory=dict)  # passage id -> readability weight
    change_seq: int = 0
    generation: int = 0
    by_id: dict[str, Passage] = field(default_factory=dict)
    by_doc: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[Filters, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for p in self.passages}
        self.by_doc = {}
        for p in self.passages:
            self.by_doc.setdefault(p.doc_id, []).append(p.id)
        rows = [self.by_id[pid] for pid in self.lexical.ids]
        self.columns = {
            "type": np.array([str(p.doc_type) for p in rows], dtype=object),
            "agency": np.array([normalize(p.issuer) for p in rows], dtype=object),
            "topic": np.array([normalize(p.topic) for p in rows], dtype=object),
            "audience": np.array([normalize(p.audience) for p in rows], dtype=object),
            "issued_on": np.array([p.issued_on for p in rows], dtype=object),
        }

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Rows passing ``filters`` (None: all); masks are cached, the same filters recur constantly."""
        if filters is None or filters.is_empty():
            return None
        cached = self.masks.get(filters)
        if cached is None:
            if len(self.masks) >= MAX_MASKS:
                self.masks.clear()
            cached = self.masks[filters] = self._mask(filters)
        return cached

    def _mask(self, filters: Filters) -> np.ndarray:
        cols = self.columns
        keep = np.ones(len(self.lexical.ids), dtype=bool)
        if filters.type:
            keep &= cols["type"] == str(filters.type)
        for name in ("agency", "topic", "audience"):
            wanted = normalize(getattr(filters, name))
            if wanted:
                keep &= np.fromiter((wanted in v for v in cols[name]), dtype=bool, count=len(keep))
        if filters.issued_from:
            keep &= np.fromiter((bool(v) and v >= filters.issued_from for v in cols["issued_on"]), bool)
        if filters.issued_to:
            keep &= np.fromiter((bool(v) and v <= filters.issued_to for v in cols["issued_on"]), bool)
        return keep
