"""The ``Retriever`` facade (docs/ARCHITECTURE.md): one object the dialogue, the consoles and the CLI share.

It composes the lexical index (``retrieval.lexical``), the dense index and embedder (``retrieval.dense``,
``retrieval.embedder``), the fitness check (``retrieval.fitness``) and the on-disk generations
(``retrieval.index_store``).  Heavy things load in :meth:`Retriever.warm_up`, never at import.

Published, expired and abolished documents are all indexed (drafts are not): an expired document that
best matches a question must be *recognised* so the answer can say so and point to its replacement.
Status and validity are read from the archive at answer time, so a status change is honoured at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from archive.models import DocType, Document, Status
from core.settings import Settings
from retrieval import passages as passages_mod
from retrieval.citations import superseded_citation
from retrieval.lexical import LexicalIndex, LexicalParams
from retrieval.normalize import normalize, normalize_query
from retrieval.normalize import warm_up as warm_up_normalize
from retrieval.ranking import DocScore, FusionParams, collapse, fuse, highlight, query_terms
from retrieval.rerank import QueryContext, RerankModel, load_default
from retrieval.rerank import features as rerank_features
from retrieval.tokenize import Tokenizer
from retrieval.types import BuildReport, Citation, Filters, Hit, Passage

log = logging.getLogger(__name__)

INDEXED = (Status.PUBLISHED, Status.EXPIRED, Status.ABOLISHED)
PASSAGES_FILE, USER_WORDS_FILE = "passages.jsonl", "user_words.json"
# Bump when the on-disk layout of any index component changes: an index of another format is rebuilt at
# warm-up instead of failing to load (an upgraded app must never serve 503 because of an old ./var).
INDEX_FORMAT = 2
CANDIDATES = 100  # passages taken from each index before fusion
RERANK_DEPTH = 30  # documents whose features are computed when no model is loaded (training)
_DEFAULT = object()


@dataclass
class _State:
    """Everything one search reads; replaced as a whole on rebuild/refresh (readers never see half)."""

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
            if len(self.masks) >= 64:
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


class Retriever:
    """Hybrid search over the archive; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        archive: Any,
        *,
        embedder: Any = None,
        lexical_params: LexicalParams | None = None,
        fusion_params: FusionParams | None = None,
        today: Callable[[], str] | None = None,
        reranker: RerankModel | object | None = _DEFAULT,
    ) -> None:
        from retrieval.index_store import IndexStore

        self.settings = settings
        self.archive = archive
        self.embedder = embedder
        self.lexical_params = lexical_params or LexicalParams()
        self.fusion = fusion_params or FusionParams()
        # the learned re-ranker: retrieval/rerank_model.json when that file exists (see retrieval.rerank),
        # unless a model is given or None turns it off
        self.reranker: RerankModel | None = (
            load_default() if reranker is _DEFAULT else reranker  # type: ignore[assignment]
        )
        self.today = today or (lambda: date.today().isoformat())
        self.store = IndexStore(settings.paths.index_dir)
        self.tokenizer = Tokenizer()
        self._state: _State | None = None
        self._write_lock = threading.Lock()
        self._dense_lock = threading.Lock()
        self._last_report = BuildReport()
        self._warm = False

    # start-up ------------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load jieba, OpenCC and the embedding model, then the current index (built if missing)."""
        if self._warm:
            return
        warm_up_normalize()
        self.tokenizer.warm_up()
        use_dense = bool(self.settings.extra.get("dense", True)) and self.settings.embedding_model not in (
            "", "none")
        if self.embedder is None and use_dense:
            from retrieval.embedder import load_embedder

            try:
                self.embedder = load_embedder(self.settings.embedding_model)
            except Exception as exc:  # a missing model must not take search down: lexical still works
                log.warning("dense retrieval disabled: %s", exc)
        self._warm = True
        state = self._load()
        if state is None:
            self.rebuild()
        else:
            self._state = state
            self.refresh()

    def _ensure(self) -> _State:
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

    # building ------------------------------------------------------------------------------------------
    def _user_words(self, docs: list[Document]) -> list[str]:
        words = {d.issuer for d in docs if d.issuer}
        words |= {d.title for d in docs if d.type == DocType.GUIDE}
        words |= {k for d in docs for k in d.keywords if 2 <= len(k) <= 12}
        return [normalize(w) for w in words]

    def _dense_for(self, passages: list[Passage]) -> tuple[dict[str, float], Any]:
        """Per-passage readability weights and the vectors of the readable passages."""
        from retrieval.fitness import ramp

        emb = self.embedder
        weights = {p.id: ramp(1.0 - emb.unknown_share(p.searchable[:1000])) for p in passages}
        readable = [p for p in passages if weights[p.id] > 0]
        vecs = emb.encode([p.searchable for p in readable]) if readable else None
        return weights, (readable, vecs)

    def rebuild(self) -> BuildReport:
        """Index every indexable document from scratch and swap the new generation in atomically."""
        if not self._warm:
            before = self._last_report
            self.warm_up()
            if self._last_report is not before:  # warm_up found no index and has just built one
                return self._last_report
        started = time.perf_counter()
        with self._write_lock:
            seq, _ = self.archive.changes_since(2**62)
            docs = list(self.archive.iter_documents(statuses=INDEXED))
            self.tokenizer.add_words(self._user_words(docs))
            passages = passages_mod.split_all(docs)
            lexical = LexicalIndex(self.tokenizer, self.lexical_params)
            lexical.build([p.id for p in passages], [normalize(p.searchable) for p in passages],
                          [p.issuer for p in passages])
            dense = fitness = None
            weights: dict[str, float] = {}
            if self.embedder is not None:
                from retrieval.dense import DenseIndex
                from retrieval.fitness import check

                fitness = check(self.embedder, [p.searchable for p in passages])
                weights, (readable, vecs) = self._dense_for(passages)
                dense = DenseIndex.build([p.id for p in readable],
                                         vecs if vecs is not None else np.zeros((0, self.embedder.dim)),
                                         threshold=self.settings.dense_index_threshold)
            with self.store.build(change_seq=seq, documents=len(docs), passages=len(passages),
                                  format=INDEX_FORMAT) as tx:
                self._save(tx, passages, lexical, dense, weights, fitness)
                generation = tx.generation
            self._state = _State(passages, lexical, dense, fitness, weights, seq, generation)
        report = BuildReport(
            documents=len(docs), passages=len(passages), seconds=round(time.perf_counter() - started, 3),
            generation=str(generation), dense_enabled=dense is not None and len(dense) > 0,
            fitness=fitness.to_dict() if fitness is not None else {},
        )
        self._last_report = report
        return report

    def _save(self, tx: Any, passages: list[Passage], lexical: LexicalIndex, dense: Any,
              weights: dict[str, float], fitness: Any) -> None:
        extra: dict[str, dict[str, object]] = {pid: {"dense_weight": w} for pid, w in weights.items() if w}
        passages_mod.save(passages, tx.component_dir("passages") / PASSAGES_FILE, extra)
        lexical.save(tx.component_dir("lexical"))
        words = json.dumps(sorted(self.tokenizer.user_words), ensure_ascii=False)
        (tx.component_dir("lexical") / USER_WORDS_FILE).write_text(words, encoding="utf-8")
        if dense is not None:
            dense.save(tx.component_dir("dense"))
        if fitness is not None:
            tx.write_json("fitness.json", fitness.to_dict())

    def _load(self) -> _State | None:
        def load(snap: Any) -> _State | None:
            if snap.meta.get("format") != INDEX_FORMAT:
                log.warning("index generation %s has format %s, this code reads %s: rebuilding",
                            snap.generation, snap.meta.get("format"), INDEX_FORMAT)
                return None
            pdir, ldir = snap.component("passages"), snap.component("lexical")
            if pdir is None or ldir is None:
                return None
            passages, extra = passages_mod.load(pdir / PASSAGES_FILE)
            if (ldir / USER_WORDS_FILE).exists():  # the dictionary the index was tokenised with
                self.tokenizer.add_words(json.loads((ldir / USER_WORDS_FILE).read_text(encoding="utf-8")))
            else:
                self.tokenizer.add_words(self._user_words(list(self.archive.iter_documents(statuses=INDEXED))))
            lexical = LexicalIndex.load(ldir, self.tokenizer)
            dense = fitness = None
            ddir = snap.component("dense")
            if self.embedder is not None:
                from retrieval.dense import DenseIndex
                from retrieval.fitness import FitnessReport

                if ddir is None or not snap.file("fitness.json").exists():
                    return None  # built without a model: rebuild with the configured one
                fitness = FitnessReport.load(snap.file("fitness.json"))
                dense = DenseIndex.load(ddir)
                if dense.dim != self.embedder.dim or fitness.model != self.embedder.name:
                    return None  # the configured model changed: its vectors are not comparable
            weights = {pid: float(str(e.get("dense_weight", 0.0))) for pid, e in extra.items()}
            return _State(passages, lexical, dense, fitness, weights, snap.change_seq, snap.generation)

        return self.store.read(load)

    def refresh(self) -> int:
        """Apply the archive's changes since the index was built; returns the number of documents updated."""
        state = self._ensure()
        with self._write_lock:
            latest, changed = self.archive.changes_since(state.change_seq)
            if not changed:
                return 0
            old_ids = [pid for doc_id in changed for pid in state.by_doc.get(doc_id, [])]
            changed_set = set(changed)
            keep = [p for p in state.passages if p.doc_id not in changed_set]
            found = (self.archive.find(i) for i in changed)
            docs = [d for d in found if d is not None and d.status in INDEXED]
            self.tokenizer.add_words(self._user_words(docs))
            new = passages_mod.split_all(docs)
            lexical = state.lexical.clone()
            lexical.remove(old_ids, recompute=False)
            lexical.add([p.id for p in new], [normalize(p.searchable) for p in new], [p.issuer for p in new])
            dense, weights = state.dense, dict(state.dense_weight)
            for pid in old_ids:
                weights.pop(pid, None)
            if dense is not None and self.embedder is not None:
                new_weights, (readable, vecs) = self._dense_for(new)
                weights.update(new_weights)
                with self._dense_lock:
                    dense.remove(old_ids)
                    if readable:
                        dense.add([p.id for p in readable], vecs)
            passages = keep + new
            with self.store.update(change_seq=latest, passages=len(passages)) as tx:
                self._save(tx, passages, lexical, dense, weights, None)
            self._state = _State(passages, lexical, dense, state.fitness, weights, latest, state.generation)
        return len(changed)

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

    # searching -----------------------------------------------------------------------------------------
    def _dense_candidates(
        self, state: _State, query: str, mask: np.ndarray | None
    ) -> tuple[list[tuple[str, float]], float]:
        """Dense (passage id, cosine) candidates and the query's dense weight (α · fitness)."""
        if state.dense is None or self.embedder is None or self.fusion.dense_alpha <= 0:
            return [], 0.0
        if not len(state.dense):
            return [], 0.0
        from retrieval.fitness import ramp

        weight = ramp(1.0 - self.embedder.unknown_share(query))
        if state.fitness is not None:
            weight = min(weight, state.fitness.weight_for(query))
        if weight <= 0:
            return [], 0.0
        qvec = self.embedder.encode([query])
        with self._dense_lock:
            found = state.dense.search(qvec, CANDIDATES)[0]
        if mask is not None:
            rows = state.lexical.row_of
            found = [(pid, s) for pid, s in found if (r := rows(pid)) is not None and mask[r]]
        return found, weight * self.fusion.dense_alpha

    def rank(
        self, query: str, filters: Filters | None = None, *, rerank: bool = True,
        features_out: list[Any] | None = None, depth: int = 0,
    ) -> tuple[list[DocScore], dict[str, float], list[tuple[str, float]], float]:
        """Documents best first for ``query`` (before status handling), with each lexical candidate's
        query coverage and the dense candidates and weight.  With ``rerank`` the learned model
        (``retrieval.rerank``) re-orders the best documents; ``features_out`` receives the feature matrix
        of those documents (training reads it; ``depth`` documents when no model sets it)."""
        state = self._ensure()
        q = normalize_query(query)
        if not q:
            return [], {}, [], 0.0
        mask = state.mask(filters)
        found = state.lexical.search_detailed(q, CANDIDATES, mask)
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
        dense, dense_weight = self._dense_candidates(state, query, mask)
        fused = fuse(lexical, dense, dense_weight, state.dense_weight)
        ranked = collapse(fused, state.by_id, q, self.fusion)
        model = self.reranker if rerank else None
        if ranked and (model is not None or features_out is not None):
            depth = model.depth if model is not None else (depth or RERANK_DEPTH)
            x = rerank_features(QueryContext.of(q), ranked, signals, depth)
            if features_out is not None:
                features_out.append(x)
            if model is not None:
                ranked = model.rerank(ranked, x)
        return ranked, coverage, dense, dense_weight

    def _current_first(self, ranked: list[Any], today: str) -> list[Any]:
        """Move the best current document ahead of a not-current top match that it nearly ties.

        A citizen asking 「居住证管理办法」 wants the rules in force, not the abolished ones of the same title
        that happen to score a little higher; a clear win of the old document (its 文号 asked for) stays.
        """
        top = self.archive.find(ranked[0].doc_id)
        if top is None or top.is_current(today):
            return ranked
        for i, scored in enumerate(ranked[1:], start=1):
            if scored.score < self.fusion.current_tie * ranked[0].score:
                break
            doc = self.archive.find(scored.doc_id)
            if doc is not None and doc.status in INDEXED and doc.is_current(today):
                return [scored, *ranked[:i], *ranked[i + 1:]]
        return ranked

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
        ranked, coverage, dense, dense_weight = self.rank(query, filters, rerank=True)
        if not ranked:
            return []
        today = self.today()
        terms = query_terms(self.tokenizer, q)
        top_score = ranked[0].score
        # a calibrated confidence for the best document: how much of the query its best passage covers
        confidence = max((coverage.get(p.id, 0.0) for p, _ in ranked[0].passages), default=0.0)
        if dense and dense_weight > 0:
            confidence = max(confidence, min(1.0, dense[0][1]) * min(1.0, dense_weight))
        hits: list[Hit] = []
        if not include_inactive:
            ranked = self._current_first(ranked, today)
        for rank, scored in enumerate(ranked):
            doc = self.archive.find(scored.doc_id)
            if doc is None or doc.status not in INDEXED:
                continue
            current = doc.is_current(today)
            if not current and not include_inactive and (rank > 0 or hits):
                continue
            citation = Citation.of(doc, today)
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
