"""The learned re-ranker: its features, its model file, its training, and its use by Retriever.search."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from evaluation.rerank_train import QueryData, cross_validate, fit, pseudo_queries, score
from retrieval import rerank
from retrieval.ranking import DocScore
from retrieval.rerank import FEATURES, QueryContext, RerankModel, features
from retrieval.types import DocType, Passage

COL = {name: i for i, name in enumerate(FEATURES)}


def _doc(doc_id: str, score: float, text: str, issuer: str, n_passages: int = 1) -> DocScore:
    ps = [(Passage(id=f"{doc_id}#{i}", doc_id=doc_id, field="faq", text=text, title="常见问答",
                   doc_type=DocType.FAQ, issuer=issuer), score / (i + 1)) for i in range(n_passages)]
    return DocScore(doc_id, score, ps)


def test_features_describe_each_candidate() -> None:
    ranked = [
        _doc("A", 2.0, "请拨打电话02-2720-8889洽询停车费退费事宜。", "交通局", n_passages=2),
        _doc("B", 1.0, "停车费可至便利商店缴纳。", "交通局"),
        _doc("C", 0.5, "图书馆开放时间为上午九点。", "文化局"),
    ]
    lexical = {"A#0": (3.0, {"bm25": 1.0, "lm": 0.5, "coverage": 0.8, "rel_len": 2.0}),
               "B#0": (1.5, {"bm25": 0.4, "lm": 1.0, "coverage": 0.4, "rel_len": 0.5})}
    ctx = QueryContext.of("停车费退费的电话")
    x = features(ctx, ranked, lexical, depth=2)
    assert x.shape == (2, len(FEATURES))  # only the first ``depth`` documents
    a, b = x
    assert a[COL["score"]] == 1.0 and b[COL["score"]] == 0.5
    assert a[COL["log_rank"]] == 0.0 and b[COL["log_rank"]] == pytest.approx(np.log(2))
    assert a[COL["lexical"]] == 1.0 and b[COL["lexical"]] == 0.5
    assert (a[COL["bm25"]], b[COL["lm"]], a[COL["coverage"]]) == (1.0, 1.0, 0.8)
    assert a[COL["log_len"]] == pytest.approx(np.log(2.0))
    # query trigrams 停车费 车费退 费退费 退费的 费的电 的电话: A holds 停车费, 车费退, 费退费 (3 of 6)
    assert a[COL["trigrams"]] == pytest.approx(3 / 6) and b[COL["trigrams"]] == pytest.approx(1 / 6)
    assert a[COL["answer_kind"]] == 1.0 and b[COL["answer_kind"]] == 0.0  # a phone number was asked for
    assert a[COL["issuer_share"]] == b[COL["issuer_share"]] == 1.0  # both of the issuer of the top 2
    assert a[COL["passages"]] == pytest.approx(np.log(3)) and a[COL["second"]] == 0.5
    assert b[COL["passages"]] == pytest.approx(np.log(2)) and b[COL["second"]] == 0.0
    assert features(ctx, ranked, lexical, depth=3)[2][COL["issuer_share"]] == pytest.approx(0.5 / 3.5)


def _model(weights: dict[str, float], depth: int = 10) -> RerankModel:
    coef = np.array([weights.get(f, 0.0) for f in FEATURES])
    return RerankModel(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, depth)


def test_model_reorders_the_head_keeps_the_tail_and_round_trips(tmp_path: Path) -> None:
    ranked = [_doc(d, s, "文本", "局") for d, s in (("A", 3.0), ("B", 2.0), ("C", 1.0), ("D", 0.5))]
    x = np.zeros((3, len(FEATURES)))
    x[:, COL["lead"]] = [0.1, 0.9, 0.5]
    out = _model({"lead": 2.0}).rerank(ranked, x)
    assert [d.doc_id for d in out] == ["B", "C", "A", "D"]
    scores = [d.score for d in out]
    assert scores == sorted(scores, reverse=True) and scores[2] > scores[3] == 0.5
    path = tmp_path / "m.json"
    _model({"lead": 2.0}, depth=7).save(path)
    loaded = RerankModel.load(path)
    assert loaded.depth == 7 and np.allclose(loaded.score(x), 2.0 * x[:, COL["lead"]])
    rec = json.loads(path.read_text(encoding="utf-8"))
    rec["features"] = rec["features"][:-1]
    path.write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(ValueError):
        RerankModel.load(path)  # a model of another feature set is refused, not misread


def _synthetic(n: int, seed: int) -> list[QueryData]:
    """Queries whose hand-set order is random but whose relevant document has a high ``lead`` value."""
    rng = random.Random(seed)
    out = []
    for q in range(n):
        docs = [f"q{q}d{i}" for i in range(10)]
        rng.shuffle(docs)
        x = np.array([[rng.random() for _ in FEATURES] for _ in docs])
        rel = docs[rng.randrange(10)]
        x[docs.index(rel), COL["lead"]] += 1.0
        out.append(QueryData(x, docs, {rel}))
    return out


def test_training_finds_the_informative_feature() -> None:
    data = _synthetic(200, seed=1)
    model = fit(data, l2=1.0, depth=10)
    assert int(np.argmax(model.coef)) == COL["lead"]
    assert score(model, data)["mrr@10"] > 0.9 > score(None, data)["mrr@10"]
    assert cross_validate(data, 5, l2=1.0, depth=10)["mrr@10"] > 0.9  # held-out queries too


def test_pseudo_queries_take_the_first_sentence_out(tmp_path: Path) -> None:
    from tests.retrieval.conftest import write_jsonl

    docs = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "1", "body": "垃圾清运时间为每晚七点。请依规定分类。"},
        {"id": "2", "body": "一句话。"},  # no second sentence: not used
    ])
    out = tmp_path / "p.jsonl"
    qrels = pseudo_queries(docs, out, n=5, min_chars=4)
    assert qrels == [("垃圾清运时间为每晚七点。", {"1"})]
    bodies = {r["id"]: r["body"] for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert bodies == {"1": "请依规定分类。", "2": "一句话。"}


def test_search_uses_the_model_file_when_present(make_retriever, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    query = "停车费"
    plain = [h.doc_id for h in make_retriever(reranker=None).search(query, top_k=10)]
    assert len(plain) >= 3
    # a model that prefers what the hand-set order put last turns the head of the list around
    path = tmp_path / "rerank_model.json"
    _model({"log_rank": 1.0}, depth=len(plain)).save(path)
    monkeypatch.setattr(rerank, "MODEL_FILE", path)
    r = make_retriever()
    assert r.reranker is not None and r.reranker.depth == len(plain)
    assert [h.doc_id for h in r.search(query, top_k=10)] == plain[::-1]
    monkeypatch.setattr(rerank, "MODEL_FILE", tmp_path / "absent.json")
    assert make_retriever().reranker is None  # no file: the hand-set order
