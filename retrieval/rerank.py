"""Learned re-ranking of the best documents: a linear model over signals the ranker already computes.

The hand-set pipeline (``retrieval.lexical`` → ``ranking.fuse`` → ``ranking.collapse``) ranks documents by
one score; many other signals about each candidate are computed on the way and thrown away (the BM25 score
of each token stream, the query-likelihood score, how much of the query each stream covers, the passage's
length, the answer kind, the title match, whether several passages of the document matched, whether the
document's issuer dominates the candidates…).  ``features`` turns them into a small vector per candidate
document, and a linear model (``RerankModel``) re-orders the top ``RerankModel.depth`` documents by
``w · standardised features``.

Only language-level signals are used — no word of any data set.  The model is trained by
``python -m evaluation.rerank_train`` (listwise softmax loss, k-fold cross-validation over queries).
``Retriever`` uses it when ``rerank_model.json`` exists next to this file; **none is shipped**: on the
Taipei development set the cross-validated gain is within noise (MRR@10 +0.004, Recall@5 +0.003) and a
model trained on other questions (corpus pseudo-queries) made the ranking worse, so learned weights are not
expected to carry over to another city's questions (bench/RETRIEVAL_QUALITY.md).  The machinery stays for
signals that do carry information the hand-set score lacks (a dense model that reads the language).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.normalize import normalize
from retrieval.ranking import FIELD_CUES, DocScore, _bigrams, _share, _title_share, asked_fields, asked_kinds

MODEL_FILE = Path(__file__).with_name("rerank_model.json")
MODEL_VERSION = 1

FEATURES: tuple[str, ...] = (
    "score",  # the hand-set pipeline's document score / the best document's
    "log_rank",  # log(1 + rank) in the hand-set order
    "lexical",  # best passage's fused lexical score / the best passage's
    "bm25", "lm",  # its plain BM25 (before local re-scoring) and query-likelihood parts
    "bm25_words", "bm25_bigrams", "bm25_unigrams",  # BM25 of each token stream / the query's best
    "coverage", "cover_words", "cover_bigrams", "cover_unigrams",  # IDF share of the query present
    "log_len",  # log(passage length / mean passage length)
    "trigrams",  # share of the query's character trigrams found verbatim in the passage
    "lead",  # share of the query's character bigrams in the passage's first 60 characters
    "answer_kind",  # share of the answer kinds asked (phone, amount, place…) the passage holds
    "field",  # the passage is the guide field the question asks about
    "title",  # how completely the query names the document title
    "issuer_share",  # share of the top candidates' score held by documents of the same issuer
    "passages",  # log(1 + number of the document's passages among the candidates)
    "second",  # score of the document's second passage / its best
)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffa-z0-9]+")
LEAD_CHARS = 60


@functools.lru_cache(maxsize=65536)
def _flat(text: str) -> str:
    return normalize(text)


def _query_grams(query_norm: str, n: int) -> set[str]:
    grams: set[str] = set()
    for run in _CJK_RUN.findall(query_norm):
        if len(run) >= n:
            grams.update(run[i : i + n] for i in range(len(run) - n + 1))
    return grams


@dataclass
class QueryContext:
    """What the features need from the query, computed once per search."""

    query_norm: str
    trigrams: set[str] = field(default_factory=set)
    bigrams: set[str] = field(default_factory=set)
    kinds: tuple[str, ...] = ()
    fields: frozenset[str] = frozenset()
    title_bigrams: frozenset[str] = frozenset()

    @classmethod
    def of(cls, query_norm: str) -> QueryContext:
        return cls(query_norm, _query_grams(query_norm, 3), _query_grams(query_norm, 2),
                   asked_kinds(query_norm), asked_fields(query_norm), frozenset(_bigrams(query_norm)))


def features(
    ctx: QueryContext,
    ranked: Sequence[DocScore],
    lexical: dict[str, tuple[float, dict[str, float]]],
    depth: int,
) -> np.ndarray:
    """Feature matrix (documents × FEATURES) of the first ``depth`` documents of ``ranked``.

    ``lexical`` maps a passage id to (fused lexical score, signals of ``retrieval.lexical.Candidates``
    plus ``coverage`` and ``rel_len``) for the lexical candidates; passages found only by the dense side
    have zeros there.
    """
    docs = list(ranked[:depth])
    out = np.zeros((len(docs), len(FEATURES)), dtype=np.float64)
    if not docs:
        return out
    top_doc = docs[0].score or 1.0
    top_lex = max((v[0] for v in lexical.values()), default=0.0) or 1.0
    issuer_mass: dict[str, float] = {}
    for d in docs[:20]:
        issuer = d.passages[0][0].issuer
        issuer_mass[issuer] = issuer_mass.get(issuer, 0.0) + d.score
    total_mass = sum(issuer_mass.values()) or 1.0
    n_tri, n_bi = len(ctx.trigrams), len(ctx.bigrams)
    col = {name: i for i, name in enumerate(FEATURES)}
    for i, d in enumerate(docs):
        passage, _ = d.passages[0]
        lex_score, sig = lexical.get(passage.id, (0.0, {}))
        text = _flat(passage.searchable)
        row = out[i]
        row[col["score"]] = d.score / top_doc
        row[col["log_rank"]] = math.log1p(i)
        row[col["lexical"]] = lex_score / top_lex
        for name in ("bm25", "lm", "bm25_words", "bm25_bigrams", "bm25_unigrams", "coverage", "cover_words",
                     "cover_bigrams", "cover_unigrams"):
            row[col[name]] = sig.get(name, 0.0)
        row[col["log_len"]] = math.log(max(sig.get("rel_len", 1.0), 1e-3))
        if n_tri:
            row[col["trigrams"]] = sum(g in text for g in ctx.trigrams) / n_tri
        if n_bi:
            lead = _flat(passage.text)[:LEAD_CHARS]
            row[col["lead"]] = sum(g in lead for g in ctx.bigrams) / n_bi
        if ctx.kinds and passage.field not in FIELD_CUES:
            row[col["answer_kind"]] = _share(ctx.kinds, passage.text)
        row[col["field"]] = float(passage.field in ctx.fields)
        row[col["title"]] = _title_share(ctx.title_bigrams, passage.title)
        row[col["issuer_share"]] = issuer_mass.get(passage.issuer, 0.0) / total_mass
        row[col["passages"]] = math.log1p(sum(1 for p in d.passages))
        if len(d.passages) > 1 and d.passages[0][1] > 0:
            row[col["second"]] = d.passages[1][1] / d.passages[0][1]
    return out


@dataclass(frozen=True)
class RerankModel:
    """A linear scorer over standardised ``FEATURES``; re-orders the first ``depth`` documents."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    depth: int = 30
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(((x - self.mean) / self.scale) @ self.coef)

    def rerank(self, ranked: list[DocScore], x: np.ndarray) -> list[DocScore]:
        """``ranked`` with its first ``len(x)`` documents re-ordered by the model.  Their scores become
        positive and decreasing (a logistic of the model score, kept above the documents after them), so
        callers that read relative scores still can."""
        n = len(x)
        if n < 2:
            return ranked
        z = self.score(x)
        order = np.argsort(-z, kind="stable")
        rest = ranked[n:]
        floor = rest[0].score if rest else 0.0
        head = []
        for j in order:
            d = ranked[int(j)]
            head.append(DocScore(d.doc_id, floor + 1.0 / (1.0 + math.exp(-float(z[j]))), d.passages))
        return head + rest

    def to_dict(self) -> dict[str, Any]:
        return {"version": MODEL_VERSION, "features": list(self.names), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "depth": self.depth,
                "meta": self.meta}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RerankModel:
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("version") != MODEL_VERSION or tuple(rec["features"]) != FEATURES:
            raise ValueError(f"{path}: model of another version or feature set; retrain it")
        return cls(tuple(rec["features"]), np.asarray(rec["mean"]), np.asarray(rec["scale"]),
                   np.asarray(rec["coef"]), int(rec.get("depth", 30)), dict(rec.get("meta", {})))


def load_default() -> RerankModel | None:
    """The shipped model, or None when it is missing or stale (search then keeps the hand-set order)."""
    try:
        return RerankModel.load(MODEL_FILE)
    except (OSError, ValueError, KeyError):
        return None
