"""The ``Retriever`` facade (docs/ARCHITECTURE.md): one object the dialogue, the consoles and the CLI share.

It composes the tokenizer and the embedder (loaded in :meth:`Retriever.warm_up`, never at import), the
index's lifecycle (``retrieval.lifecycle``: build, load, apply the archive's changes), the state a search
reads (``retrieval.state``: one generation with its filter masks, replaced whole), the ranking
(``retrieval.lexical``, ``retrieval.dense``, ``retrieval.ranking``, the optional learned re-ranker
``retrieval.rerank``) and the current-document policy (``retrieval.validity``).  It takes a
``RetrievalConfig``, not the app's settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from core.dates import local_today
from retrieval.citations import cite, superseded_citation
from retrieval.config import RetrievalConfig
from retrieval.lexical import LexicalParams
from retrieval.lifecycle import IndexLifecycle
from retrieval.normalize import normalize_query
from retrieval.normalize import warm_up as warm_up_normalize
from retrieval.passages import name_owner
from retrieval.ranking import DocScore, FusionParams, collapse, fuse, highlight, query_terms
from retrieval.rerank import QueryContext, RerankModel, load_default
from retrieval.rerank import features as rerank_features
from retrieval.state import IndexState
from retrieval.tokenize import Tokenizer
from retrieval.types import BuildReport, Filters, Hit
from retrieval.validity import current_first
from retrieval.validity import shown as shown_documents

log = logging.getLogger(__name__)

__all__ = ["Retriever"]

CANDIDATES = 100  # passages taken from each index before fusion
RERANK_DEPTH = 30  # documents whose features are computed when no model is loaded (training)
_DEFAULT = object()


class Retriever:
    """Hybrid search over the archive; see the module docstring."""

    def __init__(
        self,
        config: RetrievalConfig,
        archive: Any,
        *,
        embedder: Any = None,
        lexical_params: LexicalParams | None = None,
        fusion_params: FusionParams | None = None,
        today: Callable[[], str] | None = None,
        reranker: RerankModel | object | None = _DEFAULT,
    ) -> None:
        self.config = config
        self.archive = archive
        self.embedder = embedder
        self.lexical_params = lexical_params or LexicalParams()
        self.fusion = fusion_params or FusionParams()
        # the learned re-ranker: retrieval/rerank_model.json when that file exists (see retrieval.rerank),
        # unless a model is given or None turns it off
        self.reranker: RerankModel | None = (
            load_default() if reranker is _DEFAULT else reranker  # type: ignore[assignment]
        )
        self.today = today or self._today
        self.tokenizer = Tokenizer()
        self.lifecycle = IndexLifecycle(config, archive, self.tokenizer, self.lexical_params,
                                        lambda: self.embedder)
        self.store = self.lifecycle.store
        self._state: IndexState | None = None
        self._write_lock = threading.Lock()
        self._dense_lock = threading.Lock()
        self._last_report = BuildReport()
        self._warm = False

    # start-up ------------------------------------------------------------------------------------------

    def _today(self) -> str:
        """Today in the city (config.time_zone), or on the machine's clock when none is set."""
        zone_name = self.config.time_zone
        return local_today(zone_name) if zone_name else date.today().isoformat()
    def warm_up(self) -> None:
        """Load jieba, OpenCC and the embedding model, then the current index (built if missing)."""
        if self._warm:
            return
        warm_up_normalize()
        self.tokenizer.warm_up()
        if self.embedder is None and self.config.uses_dense:
            from retrieval.embedder import load_embedder

            try:
                self.embedder = load_embedder(self.config.embedding_model,
                                              processes=self.config.embedding_processes)
            except Exception as exc:  # a missing model must not take search down: lexical still works
                log.warning("dense retrieval disabled: %s", exc)
        self._warm = True
        state = self.lifecycle.load()
        if state is None:
            self.rebuild()
        else:
            self._state = state
            self.refresh()

    def _ensure(self) -> IndexState:
        if not self._warm:
            self.warm_up()
        if self._state is None:
            self.rebuild()
        assert self._state is not None
        return self._state

    def info(self) -> dict[str, Any]:
        state = self._state
        if state is None:
            return {"passages": 0}
        return {
            "passages": len(state.passages),
            "documents": len(state.by_doc),
            "generation": state.generation,
            "change_seq": state.change_seq,
            "dense": state.dense is not None,
            "embedding_model": getattr(self.embedder, "name", None),
        }

    # the index's lifecycle -----------------------------------------------------------------------------
    def rebuild(self) -> BuildReport:
        """Index every indexable document from scratch and swap the new generation in atomically."""
        if not self._warm:
            before = self._last_report
            self.warm_up()
            if self._last_report is not before:  # warm_up found no index and has just built one
                return self._last_report
        with self._write_lock:
            self._state, report = self.lifecycle.build()
        self._last_report = report
        return report

    def refresh(self) -> int:
        """Apply the archive's changes since the index was built; returns the number of documents updated."""
        state = self._ensure()
        with self._write_lock:
            self._state, changed = self.lifecycle.apply_changes(state, self._dense_lock)
        return changed

    def change_seq(self) -> int:
        """The archive change sequence the index reflects (-1 before it is loaded)."""
        state = self._state
        return state.change_seq if state is not None else -1

    def catch_up(self) -> int:
        """The live index: apply the archive's changes if there are any (one cheap ``max(seq)`` query when
        there are none); returns the number of documents updated.  The app calls it in the background."""
        state = self._state
        if state is None or self.archive.latest_change() == state.change_seq:
            return 0
        return self.refresh()

    # ranking -------------------------------------------------------------------------------------------
    def _dense_candidates(
        self, state: IndexState, query: str, mask: np.ndarray | None
    ) -> tuple[list[tuple[str, float]], float, dict[str, tuple[float, str]]]:
        """Dense (passage id, cosine) candidates, the query's readability weight (``retrieval.fitness``: 0
        when the model cannot read it) and the question-to-question bonus of the documents whose names
        matched (see ``collapse``)."""
        fusion = self.fusion
        if (state.dense is None or self.embedder is None or not fusion.uses_dense
                or not len(state.dense)):
            return [], 0.0, {}
        if fusion.dense_alpha <= 0 and fusion.title_alpha <= 0 and fusion.keyword_alpha <= 0:
            return [], 0.0, {}
        from retrieval.fitness import ramp

        weight = ramp(1.0 - self.embedder.unknown_share(query))
        if state.fitness is not None:
            weight = min(weight, state.fitness.weight_for(query))
        if weight <= 0:
            return [], 0.0, {}
        qvec = self.embedder.encode([query])
        with self._dense_lock:
            found = state.dense.search(qvec, CANDIDATES)[0]
        rows = state.lexical.row_of
        passages: list[tuple[str, float]] = []
        bonus: dict[str, tuple[float, str]] = {}
        for dense_id, cosine in found:
            owner = name_owner(dense_id)
            if owner is None:
                if mask is None or ((r := rows(dense_id)) is not None and mask[r]):
                    passages.append((dense_id, cosine))
                continue
            doc_id, kind = owner
            first = state.by_doc.get(doc_id)
            if not first or (mask is not None and ((r := rows(first[0])) is None or not mask[r])):
                continue
            score = weight * fusion.name_score(kind, cosine)
            if score > bonus.get(doc_id, (0.0, ""))[0]:
                bonus[doc_id] = (score, first[0])
        return passages, weight, bonus

    def rank(
        self, query: str, filters: Filters | None = None, *, rerank: bool = True,
        features_out: list[Any] | None = None, depth: int = 0,
    ) -> tuple[list[DocScore], dict[str, float], list[tuple[str, float]], float]:
        """Documents best first for ``query`` (before status handling), with each lexical candidate's
        query coverage, the dense candidates and the query's readability weight.  With ``rerank`` the
        learned model (``retrieval.rerank``) re-orders the best documents; ``features_out`` receives the
        feature matrix of those documents (training reads it; ``depth`` documents when no model sets
        it)."""
        state = self._ensure()
        q = normalize_query(query)
        if not q:
            return [], {}, [], 0.0
        mask = state.mask(filters)
        found = state.lexical.search_detailed(q, CANDIDATES, mask) if self.fusion.uses_lexical else None
        ids = state.lexical.ids
        lexical: list[tuple[str, float]] = []
        coverage: dict[str, float] = {}
        signals: dict[str, tuple[float, dict[str, float]]] = {}
        if found is not None:
            for i, row in enumerate(found.rows):
                pid = ids[int(row)]
                score = float(found.scores[i])
                lexical.append((pid, score))
                coverage[pid] = float(found.coverage[i])
                sig = {name: float(v[i]) for name, v in found.signals.items()}
                sig["coverage"], sig["rel_len"] = coverage[pid], float(found.rel_len[i])
                signals[pid] = (score, sig)
        dense, readable, names = self._dense_candidates(state, query, mask)
        dense_weight = readable * self.fusion.dense_alpha
        if dense_weight > 0 and self.fusion.dense_gate > 0:
            matched = coverage.get(lexical[0][0], 0.0) if lexical else 0.0
            dense_weight += readable * self.fusion.dense_gate * (1.0 - matched)
        fused = fuse(lexical, dense, dense_weight, state.dense_weight)
        ranked = collapse(fused, state.by_id, q, self.fusion, names)
        model = self.reranker if rerank else None
        if ranked and (model is not None or features_out is not None):
            depth = model.depth if model is not None else (depth or RERANK_DEPTH)
            x = rerank_features(QueryContext.of(q), ranked, signals, depth)
            if features_out is not None:
                features_out.append(x)
            if model is not None:
                ranked = model.rerank(ranked, x)
        return ranked, coverage, dense, readable

    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]:
        """The best documents for ``query``, each with its best passages highlighted and its citation.

        By default only current documents are returned, except that when the best match is expired or
        abolished it is kept (first) with ``superseded_by`` naming its replacement, so the answer can say so.
        """
        self._ensure()
        q = normalize_query(query)
        if not q or top_k <= 0:
            return []
        ranked, coverage, dense, readable = self.rank(query, filters, rerank=True)
        if not ranked:
            return []
        today = self.today()
        terms = query_terms(self.tokenizer, q)
        top_score = ranked[0].score
        # a calibrated confidence for the best document: how much of the query its best passage covers
        confidence = max((coverage.get(p.id, 0.0) for p, _ in ranked[0].passages), default=0.0)
        # or how close in meaning its best passage is: a cosine scaled by how well the model reads the query
        # (USE here: unrelated chatter stays below 0.31 against the demo corpus, the probes' questions have a
        # median of 0.56; bot.context's fallback_min_score 0.5 sits between)
        if dense and readable > 0:
            confidence = max(confidence, min(1.0, dense[0][1]) * readable)
        hits: list[Hit] = []
        if not include_inactive:
            ranked = current_first(self.archive, ranked, today, self.fusion.current_tie)
        for _, scored, doc, current in shown_documents(self.archive, ranked, today, include_inactive):
            citation = cite(self.archive, doc, today)
            shown = [replace(p, highlight=highlight(p.text, terms)) for p, _ in scored.passages]
            hits.append(Hit(
                doc_id=doc.id, doc_type=doc.type, title=doc.title,
                score=round(confidence * scored.score / top_score, 6) if top_score > 0 else 0.0,
                passages=shown, citation=citation,
                superseded_by=None if current else superseded_citation(self.archive, doc, today),
            ))
            if len(hits) >= top_k:
                break
        return hits
