"""The lexical index: BM25 (bm25s) over jieba words + character bigrams + unigrams of each passage.

The BM25 weight of every (passage, token) pair (bm25s's Lucene scoring) is computed once at build from a
sparse term-count matrix; we keep the weights as a sparse passage × token matrix ``W`` and score a query
as ``W @ q`` where ``q`` holds per-stream query weights.
Two refinements on top of plain BM25, both unsupervised and corpus-general (numbers in
bench/RETRIEVAL_QUALITY.md):

* **Neighbour expansion** (document expansion): an FAQ answer or a guide field often omits the topic its
  question or title states, while its siblings from the same issuer repeat it.  Each passage borrows the
  terms of its ``expand_k`` most similar passages from the same issuer, damped by ``expand_alpha``, as an
  element-wise maximum: ``W' = max(W, α · S W)`` (``S`` row-normalised cosine similarities).  A passage that
  has a term itself gains nothing; one that lacks it gets a share of its neighbours' weight.
* **Local IDF re-scoring**: among the ``local_k`` best candidates, a query term that all of them contain
  does not discriminate between them, while one only a few contain does; candidate scores are recomputed
  with each term's weight multiplied by ``1 + local_gamma · idf_within_candidates``.
* **Language-model fusion**: the candidates are also scored by a query-likelihood model with Dirichlet
  smoothing (``lm_mu``), term counts recovered from the stored BM25 weights (so borrowed terms count
  fractionally and no second matrix is kept), and the two min-max-normalised scores are summed with
  weight ``lm_lambda``.  The LM's length prior and log damping rank differently from BM25's saturation;
  the fusion of the two is steadier than either.

Incremental changes re-tokenise only the changed passages and recompute the weights from the stored counts
(IDF is corpus-wide, so the weights of every passage legitimately change).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from bm25s.scoring import _score_tfc_lucene

from retrieval.tokenize import BIGRAM_MARK, UNIGRAM_MARK, Tokenizer

ROWS_FILE, COUNTS_FILE, MATRIX_FILE = "rows.jsonl", "counts.npz", "weights.npz"
STATS_FILE = "stats.npz"  # passage lengths, document and collection frequencies (before expansion)
VOCAB_FILE, PARAMS_FILE = "vocab.json", "params.json"


@dataclass(frozen=True)
class LexicalParams:
    """The few knobs of the lexical side; defaults chosen by ``evaluation.evaluate.tune`` (see bench)."""

    k1: float = 0.8
    b: float = 0.9
    word_weight: float = 1.0
    bigram_weight: float = 1.0
    unigram_weight: float = 1.0
    expand_k: int = 3
    expand_alpha: float = 0.9
    local_k: int = 20
    local_gamma: float = 0.5
    expand_block: int = 4000  # neighbours are sought among at most this many passages of one issuer
    query_max_df: float = 0.3  # in a large corpus, query tokens in more than this share of passages
    query_max_df_floor: int = 1000  # ... (and in more than this many) are ignored: near-stop-words, slow
    expand_terms: int = 128  # at most this many borrowed terms per passage (bounds the matrix's growth)
    lm_mu: float = 100.0  # Dirichlet prior of the query-likelihood score fused with BM25
    lm_lambda: float = 0.3  # its weight (0: BM25 alone)


def _top_per_row(matrix: sp.csr_matrix, m: int) -> sp.csr_matrix:
    """Keep the ``m`` largest entries of each row."""
    counts = np.diff(matrix.indptr)
    if m <= 0 or not len(counts) or counts.max() <= m:
        return matrix
    keep = np.ones(matrix.nnz, dtype=bool)
    for row in np.nonzero(counts > m)[0]:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        drop = np.argpartition(-matrix.data[start:end], m)[m:]
        keep[start + drop] = False
    rows = np.repeat(np.arange(matrix.shape[0]), counts)[keep]
    return sp.csr_matrix((matrix.data[keep], (rows, matrix.indices[keep])), shape=matrix.shape)


@dataclass
class Candidates:
    """A query's best passage rows, best first, with what their scores are made of."""

    rows: np.ndarray
    scores: np.ndarray  # the fused lexical score ``search`` ranks by
    coverage: np.ndarray  # share of the query's IDF-weighted tokens present, in [0, 1]
    signals: dict[str, np.ndarray]  # per-candidate signals, each scaled to about [0, 1] within the query
    rel_len: np.ndarray  # passage length / mean passage length


class LexicalIndex:
    """BM25 weights of every passage, addressed by row; passage ids live in ``ids``.

    Stored compactly as a sparse term-count matrix (passages × vocabulary) from which the BM25 weights are
    computed with bm25s's Lucene scoring; token strings are kept once, in ``vocab``.
    """

    def __init__(self, tokenizer: Tokenizer, params: LexicalParams | None = None) -> None:
        self.tokenizer = tokenizer
        self.params = params or LexicalParams()
        self.ids: list[str] = []
        self.groups: list[str] = []  # issuer of each row (neighbour expansion stays within it)
        self.vocab: dict[str, int] = {}
        self.counts: sp.csr_matrix | None = sp.csr_matrix((0, 0), dtype=np.float32)
        self._counts_path: Path | None = None
        self._df = np.zeros(0)  # document frequency of each vocabulary column (before expansion)
        self._doc_len = np.zeros(0, dtype=np.float32)  # tokens per passage row
        self._cf = np.zeros(0)  # collection frequency of each vocabulary column
        self._cprob = np.zeros(0)  # collection probability of each vocabulary column (smoothed)
        self.weights: sp.csc_matrix = sp.csc_matrix((0, 0), dtype=np.float32)  # columns: fast query
        self._row: dict[str, int] = {}

    # building ------------------------------------------------------------------------------------------
    def _count(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Term counts of normalised ``texts`` (new tokens are added to the vocabulary)."""
        vocab = self.vocab
        indptr: list[int] = [0]
        indices: list[int] = []
        data: list[int] = []
        for text in texts:
            row: dict[int, int] = defaultdict(int)
            for tok in self.tokenizer.tokens(text):
                col = vocab.get(tok)
                if col is None:
                    col = vocab[tok] = len(vocab)
                row[col] += 1
            indices.extend(row.keys())
            data.extend(row.values())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(texts), max(len(vocab), 1)),
        )

    def _widen(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        width = max(len(self.vocab), 1)
        if matrix.shape[1] == width:
            return matrix
        return sp.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width))

    def build(self, ids: Sequence[str], texts: Sequence[str], groups: Sequence[str]) -> None:
        """Index normalised ``texts`` (one per passage id); ``groups`` is each passage's issuer."""
        self.vocab = {}
        self.ids, self.groups = list(ids), list(groups)
        self.counts = self._count(texts)
        self._compute()

    def add(self, ids: Sequence[str], texts: Sequence[str], groups: Sequence[str]) -> None:
        self.remove(ids, recompute=False)
        new = self._count(texts)
        self.ids.extend(ids)
        self.groups.extend(groups)
        self.counts = sp.vstack([self._widen(self._counts_matrix()), self._widen(new)], format="csr")
        self._compute()

    def clone(self) -> LexicalIndex:
        """A copy that can be changed while this one keeps serving searches."""
        other = LexicalIndex(self.tokenizer, self.params)
        other.ids, other.groups, other.vocab = list(self.ids), list(self.groups), dict(self.vocab)
        other.counts, other._counts_path = self.counts, self._counts_path
        other.weights, other._row, other._df = self.weights, dict(self._row), self._df
        other._doc_len, other._cf, other._cprob = self._doc_len, self._cf, self._cprob
        return other

    def remove(self, ids: Sequence[str], recompute: bool = True) -> int:
        doomed = set(ids)
        keep = [i for i, pid in enumerate(self.ids) if pid not in doomed]
        removed = len(self.ids) - len(keep)
        if removed:
            self.ids = [self.ids[i] for i in keep]
            self.groups = [self.groups[i] for i in keep]
            self.counts = self._counts_matrix()[keep]
            if recompute:
                self._compute()
        return removed

    def _compute(self) -> None:
        self._row = {pid: i for i, pid in enumerate(self.ids)}
        counts = self._widen(self._counts_matrix())
        self.counts = counts
        n = counts.shape[0]
        if not n:
            self.weights = sp.csc_matrix((0, counts.shape[1]), dtype=np.float32)
            self._df = np.zeros(counts.shape[1])
            self._set_stats(np.zeros(0), self._df, self._df)
            return
        p = self.params
        doc_len = np.asarray(counts.sum(axis=1)).ravel()
        avg_len = float(doc_len.mean()) or 1.0
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))  # bm25s's Lucene IDF, vectorised
        cf = np.bincount(counts.indices, weights=counts.data, minlength=counts.shape[1])
        self._set_stats(doc_len, df, cf)
        row_len = np.repeat(doc_len, np.diff(counts.indptr))
        tfc = _score_tfc_lucene(counts.data, row_len, avg_len, p.k1, p.b)
        weights = sp.csr_matrix(((tfc * idf[counts.indices]).astype(np.float32), counts.indices.copy(),
                                 counts.indptr.copy()), shape=counts.shape)
        if p.expand_k > 0 and p.expand_alpha > 0:
            weights = self._expand(weights)
        self.weights = weights.tocsc()

    def _set_stats(self, doc_len: np.ndarray, df: np.ndarray, cf: np.ndarray) -> None:
        self._doc_len = np.asarray(doc_len, dtype=np.float32)
        self._df = np.asarray(df, dtype=np.float64)
        self._cf = np.asarray(cf, dtype=np.float64)
        self._cprob = (self._cf + 0.5) / (float(self._cf.sum()) + 0.5 * max(len(self._cf), 1))

    def _lm_scores(self, rows: np.ndarray, sub: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Dirichlet query likelihood of candidate ``rows`` (``sub``: their BM25 weights of the query
        columns), with term counts recovered by inverting the Lucene BM25 term-frequency formula."""
        p = self.params
        n = len(self.ids)
        df = self._df[cols]
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        doc_len = self._doc_len[rows].astype(np.float64)
        avg_len = float(self._doc_len.mean()) or 1.0
        norm = (p.k1 * (1.0 - p.b + p.b * doc_len / avg_len))[:, None]
        sat = np.minimum(sub / np.maximum(idf, 1e-9), 0.999)  # bm25s's tf component: tf / (tf + norm)
        tf = sat * norm / (1.0 - sat)
        mu = p.lm_mu
        matched = np.log1p(tf / (mu * self._cprob[cols])) @ vals
        return np.asarray(matched + vals.sum() * np.log(mu / (doc_len + mu)))

    def _expand(self, weights: sp.csr_matrix) -> sp.csr_matrix:
        p = self.params
        by_group: dict[str, list[int]] = defaultdict(list)
        for row, group in enumerate(self.groups):
            by_group[group].append(row)
        norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        unit = sp.diags(1.0 / norms).dot(weights).tocsr()
        # a large issuer is cut into blocks of consecutive passages (neighbouring documents in archive
        # order) so the cost stays linear in the corpus size; each block's borrowed terms are pruned at
        # once so memory stays bounded by one block
        size = max(2, p.expand_block)
        blocks = [m[i : i + size] for m in by_group.values() for i in range(0, len(m), size)]
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for members in blocks:
            if len(members) < 2:
                continue
            idx = np.asarray(members)
            sub = unit[idx]
            sim_rows: list[np.ndarray] = []
            sim_cols: list[np.ndarray] = []
            sim_vals: list[np.ndarray] = []
            for start in range(0, len(idx), 1000):
                sims = (sub[start : start + 1000] @ sub.T).toarray()
                for r in range(sims.shape[0]):
                    sims[r, start + r] = 0.0
                k = min(p.expand_k, sims.shape[1] - 1)
                top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
                for r, cols in enumerate(top):
                    vals = sims[r, cols]
                    keep = vals > 0
                    if keep.any():
                        sim_rows.append(np.full(int(keep.sum()), start + r))
                        sim_cols.append(cols[keep])
                        sim_vals.append(vals[keep] / vals[keep].sum())
            if not sim_rows:
                continue
            pairs = (np.concatenate(sim_rows), np.concatenate(sim_cols))
            sim = sp.csr_matrix((np.concatenate(sim_vals), pairs), shape=(len(idx), len(idx)))
            own = weights[idx]
            borrowed = ((sim @ own) * p.expand_alpha).tocsr()
            borrowed = (borrowed - borrowed.multiply(own > 0)).tocsr()  # only terms the passage lacks
            borrowed.eliminate_zeros()
            borrowed = _top_per_row(borrowed, p.expand_terms).tocoo()
            parts.append((idx[borrowed.row], borrowed.col, borrowed.data))
        if not parts:
            return weights
        rows = np.concatenate([r for r, _, _ in parts])
        cols = np.concatenate([c for _, c, _ in parts])
        vals = np.concatenate([v for _, _, v in parts])
        extra = sp.csr_matrix((vals, (rows, cols)), shape=weights.shape)
        return (weights + extra).tocsr().astype(np.float32)

    # searching -----------------------------------------------------------------------------------------
    def query_vector(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(token columns, weights, number of query tokens missing from the vocabulary)."""
        cols, vals, missing, _ = self._query(text)
        return cols, vals, missing

    def _query(self, text: str) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """``query_vector`` plus the stream of each column (0 words, 1 bigrams, 2 unigrams)."""
        p = self.params
        stream = {BIGRAM_MARK: p.bigram_weight, UNIGRAM_MARK: p.unigram_weight}
        code = {BIGRAM_MARK: 1, UNIGRAM_MARK: 2}
        acc: dict[int, float] = defaultdict(float)
        kind: dict[int, int] = {}
        missing = 0
        max_df = max(p.query_max_df * len(self.ids), p.query_max_df_floor)
        for tok in self.tokenizer.tokens(text):
            col = self.vocab.get(tok)
            if col is not None and col < len(self._df) and self._df[col] > max_df:
                continue
            if col is not None:
                acc[col] += stream.get(tok[0], p.word_weight)
                kind[col] = code.get(tok[0], 0)
            else:
                missing += 1
        cols = np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))
        vals = np.fromiter(acc.values(), dtype=np.float32, count=len(acc))
        streams = np.fromiter((kind[c] for c in acc), dtype=np.int8, count=len(acc))
        return cols, vals, missing, streams

    def scores(self, text: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every passage row (0 where ``mask`` is False), before local re-scoring."""
        out = np.zeros(len(self.ids), dtype=np.float32)
        cols, vals, _ = self.query_vector(text)
        if len(cols) and len(self.ids):
            out = np.asarray(self.weights[:, cols] @ vals).ravel().astype(np.float32)
        if mask is not None:
            out[~mask] = 0.0
        return out

    def search(
        self, text: str, k: int = 50, mask: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        """The best ``k`` passage rows for a normalised query as (row, score, coverage), best first.

        ``coverage`` is the share of the query's IDF-weighted tokens the passage contains, in [0, 1]: a
        calibrated confidence (a BM25 score depends on the corpus), with tokens missing from the vocabulary
        counted as unmatched at the highest IDF.
        """
        found = self.search_detailed(text, k, mask)
        if found is None:
            return []
        return [(int(r), float(s), float(c))
                for r, s, c in zip(found.rows, found.scores, found.coverage, strict=True)]

    def search_detailed(self, text: str, k: int = 50, mask: np.ndarray | None = None) -> Candidates | None:
        """``search`` with the signals behind each candidate's score (``Candidates.signals``), for the
        learned re-ranker (retrieval.rerank); None when nothing matches."""
        if not self.ids:
            return None
        cols, vals, missing, streams = self._query(text)
        if not len(cols):
            return None
        sub_all = self.weights[:, cols].tocsr()
        base = np.asarray(sub_all @ vals).ravel()
        if mask is not None:
            base[~mask] = 0.0
        n_pos = int((base > 0).sum())
        if not n_pos:
            return None
        width = min(max(k, self.params.local_k), n_pos)
        top = np.argpartition(-base, width - 1)[:width]
        top = top[np.argsort(-base[top], kind="stable")]
        scores = base[top].astype(np.float64)
        lk = min(self.params.local_k, len(top))
        if self.params.local_gamma > 0 and lk > 1:
            sub = sub_all[top[:lk]].toarray()
            ldf = (sub > 0).sum(axis=0)
            lidf = np.log1p((lk - ldf + 0.5) / (ldf + 0.5))
            rescored = sub @ (vals * (1.0 + self.params.local_gamma * lidf))
            # keep re-scored candidates above the rest: shift by the best score outside the local set
            floor = scores[lk] if len(scores) > lk else 0.0
            scores[:lk] = floor + rescored * (scores[:lk].sum() / max(rescored.sum(), 1e-9))
            order = np.argsort(-scores, kind="stable")
            top, scores = top[order], scores[order]
        top, scores = top[:k], scores[:k]
        dense_sub = sub_all[top].toarray()
        lm_part = np.zeros(len(top))
        if len(top) > 1:
            lm = self._lm_scores(top, dense_sub, cols, vals)
            span = float(lm.max() - lm.min())
            lm_part = (lm - lm.min()) / span if span > 1e-12 else lm_part
        if self.params.lm_lambda > 0 and len(top) > 1:
            scores = scores / max(float(scores.max()), 1e-12) + self.params.lm_lambda * lm_part
            order = np.argsort(-scores, kind="stable")
            top, scores, lm_part, dense_sub = top[order], scores[order], lm_part[order], dense_sub[order]
        n = len(self.ids)
        df = self._df[cols]
        idf = np.log1p((n - df + 0.5) / (df + 0.5)) * vals
        total = float(idf.sum()) + missing * float(np.log1p(n / 0.5))
        present = dense_sub > 0
        cover = present @ idf / total if total else np.zeros(len(top))
        top_base = base[top]
        signals: dict[str, np.ndarray] = {"lm": lm_part, "bm25": top_base / max(float(top_base.max()), 1e-12)}
        for code, name in enumerate(("words", "bigrams", "unigrams")):
            in_stream = streams == code
            part = dense_sub[:, in_stream] @ vals[in_stream]
            signals[f"bm25_{name}"] = part / max(float(part.max()), 1e-12)
            mass = float(idf[in_stream].sum())
            signals[f"cover_{name}"] = present[:, in_stream] @ idf[in_stream] / mass if mass else part * 0.0
        rel_len = np.asarray(self._doc_len[top], dtype=np.float64) / (float(self._doc_len.mean()) or 1.0)
        return Candidates(top, scores, np.asarray(cover, dtype=np.float64), signals, rel_len)

    # persistence ---------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ROWS_FILE, "w", encoding="utf-8") as fh:
            for pid, group in zip(self.ids, self.groups, strict=True):
                fh.write(json.dumps({"id": pid, "g": group}, ensure_ascii=False) + "\n")
        sp.save_npz(directory / COUNTS_FILE, self._counts_matrix(), compressed=False)
        sp.save_npz(directory / MATRIX_FILE, self.weights, compressed=False)
        (directory / VOCAB_FILE).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        np.savez(directory / STATS_FILE, doc_len=self._doc_len, df=self._df, cf=self._cf)
        (directory / PARAMS_FILE).write_text(json.dumps(asdict(self.params)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, tokenizer: Tokenizer) -> LexicalIndex:
        params = LexicalParams(**json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8")))
        index = cls(tokenizer, params)
        with open(directory / ROWS_FILE, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                index.ids.append(rec["id"])
                index.groups.append(rec["g"])
        index._row = {pid: i for i, pid in enumerate(index.ids)}
        index.vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        index.weights = sp.load_npz(directory / MATRIX_FILE).tocsc()
        if (directory / STATS_FILE).exists():
            with np.load(directory / STATS_FILE) as stats:
                index._set_stats(stats["doc_len"], stats["df"], stats["cf"])
        else:  # an index saved before the statistics were: recompute them from the counts
            counts = index._counts_matrix()
            index._set_stats(np.asarray(counts.sum(axis=1)).ravel(),
                             np.bincount(counts.indices, minlength=counts.shape[1]),
                             np.bincount(counts.indices, weights=counts.data, minlength=counts.shape[1]))
        index._counts_path = directory / COUNTS_FILE  # read only when an update needs it
        index.counts = None
        return index

    def _counts_matrix(self) -> sp.csr_matrix:
        if self.counts is None:
            assert self._counts_path is not None
            self.counts = sp.load_npz(self._counts_path).tocsr()
        return self.counts

    def row_of(self, pid: str) -> int | None:
        return self._row.get(pid)
