"""The index's lifecycle: building a generation from the archive, loading the current one, applying changes.

An ``IndexLifecycle`` turns the archive into an :class:`~retrieval.state.IndexState` and keeps the on-disk
generations of ``retrieval.index_store`` in step with it.  It does not decide when: the ``Retriever`` calls it
(at warm-up, on ``rebuild``, and from ``catch_up`` when the archive's change sequence moved) and swaps the
state it returns in whole.

Published, expired and abolished documents are all indexed (drafts are not): an expired document that best
matches a question must be *recognised* so the answer can say so and point to its replacement.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from archive.models import DocType, Document, Status
from retrieval import passages as passages_mod
from retrieval.config import RetrievalConfig
from retrieval.index_store import IndexStore
from retrieval.lexical import LexicalIndex, LexicalParams
from retrieval.normalize import normalize
from retrieval.state import IndexState
from retrieval.tokenize import Tokenizer
from retrieval.types import BuildReport, Passage

log = logging.getLogger(__name__)

INDEXED = (Status.PUBLISHED, Status.EXPIRED, Status.ABOLISHED)
PASSAGES_FILE, USER_WORDS_FILE = "passages.jsonl", "user_words.json"
# Bump when the on-disk layout of any index component changes: an index of another format is rebuilt at
# warm-up instead of failing to load (an upgraded app must never serve 503 because of an old ./var).
INDEX_FORMAT = 3  # 3: documents' names (titles, keywords) in the dense index beside the passages


class IndexLifecycle:
    def __init__(self, config: RetrievalConfig, archive: Any, tokenizer: Tokenizer,
                 lexical_params: LexicalParams, embedder: Callable[[], Any]) -> None:
        self.config = config
        self.archive = archive
        self.tokenizer = tokenizer
        self.lexical_params = lexical_params
        self.embedder = embedder  # the current embedder (None: lexical only); it loads at warm-up
        self.store = IndexStore(config.index_dir)
        self._cache: Any = None  # retrieval.embed_cache.EmbeddingCache of the current embedder

    def cache(self, embedder: Any) -> Any:
        """The vector cache of ``embedder`` (opened on first use; reopened when the model changes)."""
        from retrieval.embed_cache import EmbeddingCache

        if self._cache is None or (self._cache.model, self._cache.dim) != (embedder.name, embedder.dim):
            if self._cache is not None:
                self._cache.close()
            self._cache = EmbeddingCache(self.config.embedding_cache_file, embedder.name, embedder.dim)
        return self._cache

    def _user_words(self, docs: list[Document]) -> list[str]:
        words = {d.issuer for d in docs if d.issuer}
        words |= {d.title for d in docs if d.type == DocType.GUIDE}
        words |= {k for d in docs for k in d.keywords if 2 <= len(k) <= 12}
        return [normalize(w) for w in words]

    def _dense_for(self, passages: list[Passage], docs: list[Document],
                   shared: set[str]) -> tuple[dict[str, float], list[str], Any]:
        """Per-passage readability weights, and the dense ids and vectors of the readable passages and of
        the documents' names (``passages_mod.names``; a name the model cannot read is left out)."""
        from retrieval.fitness import ramp

        emb = self.embedder()
        weights = {p.id: ramp(1.0 - emb.unknown_share(p.searchable[:1000])) for p in passages}
        entries = [(p.id, p.searchable) for p in passages if weights[p.id] > 0]
        entries += [(nid, text) for d in docs for nid, _, text in passages_mod.names(d, shared)
                    if ramp(1.0 - emb.unknown_share(text)) > 0]
        if not entries:
            return weights, [], np.zeros((0, emb.dim), dtype=np.float32)
        vecs = self.cache(emb).encode(emb, [text for _, text in entries])
        return weights, [i for i, _ in entries], vecs

    def build(self) -> tuple[IndexState, BuildReport]:
        """Index every indexable document from scratch and swap the new generation in on disk."""
        started = time.perf_counter()
        seq, _ = self.archive.changes_since(2**62)
        docs = list(self.archive.iter_documents(statuses=INDEXED))
        self.tokenizer.add_words(self._user_words(docs))
        passages = passages_mod.split_all(docs)
        lexical = LexicalIndex(self.tokenizer, self.lexical_params)
        lexical.build([p.id for p in passages], [normalize(p.searchable) for p in passages],
                      [p.issuer for p in passages])
        dense = fitness = None
        weights: dict[str, float] = {}
        embedder = self.embedder()
        if embedder is not None:
            from retrieval.dense import DenseIndex
            from retrieval.fitness import check

            fitness = check(embedder, [p.searchable for p in passages])
            shared = passages_mod.shared_titles(d.title for d in docs)
            weights, dense_ids, vecs = self._dense_for(passages, docs, shared)
            dense = DenseIndex.build(dense_ids, vecs, threshold=self.config.dense_index_threshold)
            pruned = 0
            if self.config.embedding_cache is None:  # the home's own cache; a shared one holds other corpora
                kept = [p.searchable for p in passages]
                kept += [text for d in docs for _, _, text in passages_mod.names(d)]
                pruned = self.cache(embedder).prune(kept)
            if pruned:
                log.info("embedding cache: %d vectors of passages no longer indexed removed", pruned)
        with self.store.build(change_seq=seq, documents=len(docs), passages=len(passages),
                              format=INDEX_FORMAT) as tx:
            self._save(tx, passages, lexical, dense, weights, fitness)
            generation = tx.generation
        state = IndexState(passages, lexical, dense, fitness, weights, seq, generation)
        report = BuildReport(
            documents=len(docs), passages=len(passages), seconds=round(time.perf_counter() - started, 3),
            generation=str(generation), dense_enabled=dense is not None and len(dense) > 0,
            fitness=fitness.to_dict() if fitness is not None else {},
        )
        return state, report

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

    def load(self) -> IndexState | None:
        """The current generation on disk; None when there is none, or it cannot serve this configuration
        (another format, built without the configured model or with another one): then it is rebuilt."""
        embedder = self.embedder()

        def load(snap: Any) -> IndexState | None:
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
            if embedder is not None:
                from retrieval.dense import DenseIndex
                from retrieval.fitness import FitnessReport

                if ddir is None or not snap.file("fitness.json").exists():
                    return None  # built without a model: rebuild with the configured one
                fitness = FitnessReport.load(snap.file("fitness.json"))
                dense = DenseIndex.load(ddir)
                if dense.dim != embedder.dim or fitness.model != embedder.name:
                    return None  # the configured model changed: its vectors are not comparable
            weights = {pid: float(str(e.get("dense_weight", 0.0))) for pid, e in extra.items()}
            return IndexState(passages, lexical, dense, fitness, weights, snap.change_seq, snap.generation)

        return self.store.read(load)

    def apply_changes(self, state: IndexState, dense_lock: Any) -> tuple[IndexState, int]:
        """The archive's changes since ``state`` applied, as a new state (the same one when nothing changed)
        and the number of documents updated; written to disk as an update of the current generation."""
        latest, changed = self.archive.changes_since(state.change_seq)
        if not changed:
            return state, 0
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
        if dense is not None and self.embedder() is not None:
            kept_titles = (state.by_id[ids[0]].title for doc_id, ids in state.by_doc.items()
                           if doc_id not in changed_set and ids)
            shared = passages_mod.shared_titles([*kept_titles, *(d.title for d in docs)])
            new_weights, dense_ids, vecs = self._dense_for(new, docs, shared)
            weights.update(new_weights)
            old_names = [i for i in dense.ids
                         if (owner := passages_mod.name_owner(i)) is not None and owner[0] in changed_set]
            with dense_lock:
                dense.remove(old_ids + old_names)
                if dense_ids:
                    dense.add(dense_ids, vecs)
        passages = keep + new
        with self.store.update(change_seq=latest, passages=len(passages)) as tx:
            self._save(tx, passages, lexical, dense, weights, None)
        updated = IndexState(passages, lexical, dense, state.fitness, weights, latest, state.generation)
        return updated, len(changed)
