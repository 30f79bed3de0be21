"""The lexical index's query-likelihood fusion: term counts recovered from the BM25 weights, statistics
persisted with the index so a loaded index ranks exactly like the one that was built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.lexical import LexicalIndex, LexicalParams
from retrieval.normalize import normalize
from retrieval.tokenize import Tokenizer

TEXTS = [
    "办理户口迁移需要携带户口簿和身份证到户政事务所办理",
    "身份证遗失补办需要照片两张,工本费新台币二百元",
    "户政事务所的办公时间为周一至周五上午八点至下午五点",
    "结婚登记双方应亲自到户政事务所办理,携带身份证户口簿印章",
    "护照申请请至外交部领事事务局办理",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    tk = Tokenizer()
    tk.warm_up()
    return tk


def _build(tokenizer: Tokenizer, **params: float) -> LexicalIndex:
    index = LexicalIndex(tokenizer, LexicalParams(**params))  # type: ignore[arg-type]
    index.build([f"p{i}" for i in range(len(TEXTS))], [normalize(t) for t in TEXTS], ["户政"] * 4 + ["外交"])
    return index


def test_term_counts_are_recovered_from_the_bm25_weights(tokenizer: Tokenizer) -> None:
    index = _build(tokenizer, expand_alpha=0.0)
    counts = index._counts_matrix().toarray()
    cols = np.nonzero(counts.sum(axis=0))[0]
    rows = np.arange(len(TEXTS))
    sub = index.weights[:, cols].toarray()
    p = index.params
    n = len(TEXTS)
    idf = np.log1p((n - index._df[cols] + 0.5) / (index._df[cols] + 0.5))
    doc_len = index._doc_len[rows].astype(np.float64)
    norm = (p.k1 * (1.0 - p.b + p.b * doc_len / doc_len.mean()))[:, None]
    sat = sub / idf
    recovered = sat * norm / (1.0 - sat)
    assert np.allclose(recovered, counts[:, cols], atol=1e-3)


def test_fusion_changes_scores_but_keeps_the_obvious_answer_first(tokenizer: Tokenizer) -> None:
    plain, fused = _build(tokenizer, lm_lambda=0.0), _build(tokenizer, lm_lambda=0.3)
    query = normalize("身份證遺失怎麼補辦")
    assert plain.search(query)[0][0] == fused.search(query)[0][0] == 1
    assert [s for _, s, _ in plain.search(query)] != [s for _, s, _ in fused.search(query)]


def test_a_loaded_index_ranks_like_the_built_one(tokenizer: Tokenizer, tmp_path: Path) -> None:
    built = _build(tokenizer)
    built.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex", tokenizer)
    assert np.array_equal(loaded._df, built._df)  # document frequencies before expansion, not after
    for query in ("户政事务所办公时间", "结婚登记要带什么", "护照"):
        q = normalize(query)
        got, want = loaded.search(q), built.search(q)
        assert [r for r, _, _ in got] == [r for r, _, _ in want]
        assert np.allclose([s for _, s, _ in got], [s for _, s, _ in want])
        assert np.allclose([c for _, _, c in got], [c for _, _, c in want])
