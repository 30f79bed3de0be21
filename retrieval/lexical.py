"""The lexical index: BM25 (bm25s) over jieba words + character bigrams + unigrams of each passage.

bm25s computes the BM25 weight of every (passage, token) pair once at build; we keep that as a sparse
passage × token matrix ``W`` and score a query as ``W @ q`` where ``q`` holds per-stream query weights.
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

Incremental changes re-tokenise only the changed passages and recompute the matrix from the cached tokens
(IDF is corpus-wide, so the weights of every passage legitimately change).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp

from retrieval.tokenize import BIGRAM_MARK, UNIGRAM_MARK, Tokenizer

TOKENS_FILE, MATRIX_FILE, VOCAB_FILE, PARAMS_FILE = "tokens.jsonl", "weights.npz", "vocab.json", "params.json"


@dataclass(frozen=True)
class LexicalParams:
    """The few knobs of the lexical side; defaults chosen by ``retrieval.evaluate.tune`` (see bench)."""

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


class LexicalIndex:
    """BM25 weights of every passage, addressed by row; passage ids live in ``ids``."""

    def __init__(self, tokenizer: Tokenizer, params: LexicalParams | None = None) -> None:
        self.tokenizer = tokenizer
        self.params = params or LexicalParams()
        self.ids: list[str] = []
        self.groups: list[str] = []  # issuer of each row (neighbour expansion stays within it)
        self.tokens: list[list[str]] = []
        self.vocab: dict[str, int] = {}
        self.weights: sp.csc_matrix = sp.csc_matrix((0, 0), dtype=np.float32)  # columns: fast query
        self._row: dict[str, int] = {}

    # building ------------------------------------------------------------------------------------------
    def build(self, ids: Sequence[str], texts: Sequence[str], groups: Sequence[str]) -> None:
        """Index normalised ``texts`` (one per passage id); ``groups`` is each passage's issuer."""
        self.ids = list(ids)
        self.groups = list(groups)
        self.tokens = [self.tokenizer.tokens(t) for t in texts]
        self._compute()

    def add(self, ids: Sequence[str], texts: Sequence[str], groups: Sequence[str]) -> None:
        self.remove(ids, recompute=False)
        self.ids.extend(ids)
        self.groups.extend(groups)
        self.tokens.extend(self.tokenizer.tokens(t) for t in texts)
        self._compute()

    def clone(self) -> LexicalIndex:
        """A copy that can be changed while this one keeps serving searches."""
        other = LexicalIndex(self.tokenizer, self.params)
        other.ids, other.groups, other.tokens = list(self.ids), list(self.groups), list(self.tokens)
        other.vocab, other.weights, other._row = self.vocab, self.weights, dict(self._row)
        return other

    def remove(self, ids: Sequence[str], recompute: bool = True) -> int:
        doomed = set(ids)
        keep = [i for i, pid in enumerate(self.ids) if pid not in doomed]
        removed = len(self.ids) - len(keep)
        if removed:
            self.ids = [self.ids[i] for i in keep]
            self.groups = [self.groups[i] for i in keep]
            self.tokens = [self.tokens[i] for i in keep]
            if recompute:
                self._compute()
        return removed

    def _compute(self) -> None:
        self._row = {pid: i for i, pid in enumerate(self.ids)}
        if not self.ids:
            self.vocab, self.weights = {}, sp.csc_matrix((0, 0), dtype=np.float32)
            return
        p = self.params
        model = bm25s.BM25(k1=p.k1, b=p.b, method="lucene")
        model.index([t or [""] for t in self.tokens], show_progress=False)
        ncols = len(model.scores["indptr"]) - 1
        csc = sp.csc_matrix(
            (model.scores["data"], model.scores["indices"], model.scores["indptr"]),
            shape=(int(model.scores["num_docs"]), ncols),
        )
        self.vocab = {str(tok): int(col) for tok, col in model.vocab_dict.items() if int(col) < ncols}
        weights = csc.tocsr().astype(np.float32)
        if p.expand_k > 0 and p.expand_alpha > 0:
            weights = self._expand(weights)
        self.weights = weights.tocsc()

    def _expand(self, weights: sp.csr_matrix) -> sp.csr_matrix:
        p = self.params
        by_group: dict[str, list[int]] = defaultdict(list)
        for row, group in enumerate(self.groups):
            by_group[group].append(row)
        norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        unit = sp.diags(1.0 / norms).dot(weights).tocsr()
        rows_out: list[np.ndarray] = []
        cols_out: list[np.ndarray] = []
        vals_out: list[np.ndarray] = []
        # a large issuer is cut into blocks of consecutive passages (neighbouring documents in archive
        # order) so the cost stays linear in the corpus size
        size = max(2, p.expand_block)
        blocks = [m[i : i + size] for m in by_group.values() for i in range(0, len(m), size)]
        for members in blocks:
            if len(members) < 2:
                continue
            idx = np.asarray(members)
            sub = unit[idx]
            for start in range(0, len(idx), 1000):
                sims = (sub[start : start + 1000] @ sub.T).toarray()
                for r in range(sims.shape[0]):
                    sims[r, start + r] = 0.0
                k = min(p.expand_k, sims.shape[1] - 1)
                top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k > 0 else np.zeros((len(sims), 0))
                for r, cols in enumerate(top):
                    vals = sims[r, cols]
                    keep = vals > 0
                    if not keep.any():
                        continue
                    vals = vals[keep] / vals[keep].sum()
                    rows_out.append(np.full(int(keep.sum()), idx[start + r]))
                    cols_out.append(idx[cols[keep]])
                    vals_out.append(vals)
        if not rows_out:
            return weights
        n = weights.shape[0]
        sim = sp.csr_matrix(
            (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))), shape=(n, n)
        )
        borrowed = (sim @ weights) * p.expand_alpha
        return weights.maximum(borrowed).tocsr().astype(np.float32)

    # searching -----------------------------------------------------------------------------------------
    def query_vector(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(token columns, weights, number of query tokens missing from the vocabulary)."""
        p = self.params
        stream = {BIGRAM_MARK: p.bigram_weight, UNIGRAM_MARK: p.unigram_weight}
        acc: dict[int, float] = defaultdict(float)
        missing = 0
        for tok in self.tokenizer.tokens(text):
            col = self.vocab.get(tok)
            if col is not None:
                acc[col] += stream.get(tok[0], p.word_weight)
            else:
                missing += 1
        cols = np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))
        vals = np.fromiter(acc.values(), dtype=np.float32, count=len(acc))
        return cols, vals, missing

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
        if not self.ids:
            return []
        cols, vals, missing = self.query_vector(text)
        if not len(cols):
            return []
        sub_all = self.weights[:, cols].tocsr()
        base = np.asarray(sub_all @ vals).ravel()
        if mask is not None:
            base[~mask] = 0.0
        n_pos = int((base > 0).sum())
        if not n_pos:
            return []
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
        n = len(self.ids)
        df = np.diff(self.weights.indptr)[cols]
        idf = np.log1p((n - df + 0.5) / (df + 0.5)) * vals
        total = float(idf.sum()) + missing * float(np.log1p(n / 0.5))
        present = (sub_all[top] > 0).toarray()
        cover = present @ idf / total if total else np.zeros(len(top))
        return [(int(r), float(s), float(c)) for r, s, c in zip(top, scores, cover, strict=True)]

    # persistence ---------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / TOKENS_FILE, "w", encoding="utf-8") as fh:
            for pid, group, toks in zip(self.ids, self.groups, self.tokens, strict=True):
                fh.write(json.dumps({"id": pid, "g": group, "t": toks}, ensure_ascii=False) + "\n")
        sp.save_npz(directory / MATRIX_FILE, self.weights, compressed=False)
        (directory / VOCAB_FILE).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        (directory / PARAMS_FILE).write_text(json.dumps(asdict(self.params)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, tokenizer: Tokenizer) -> LexicalIndex:
        params = LexicalParams(**json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8")))
        index = cls(tokenizer, params)
        with open(directory / TOKENS_FILE, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                index.ids.append(rec["id"])
                index.groups.append(rec["g"])
                index.tokens.append(rec["t"])
        index._row = {pid: i for i, pid in enumerate(index.ids)}
        index.vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        index.weights = sp.load_npz(directory / MATRIX_FILE).tocsc()
        return index

    def row_of(self, pid: str) -> int | None:
        return self._row.get(pid)
