"""Train and cross-validate the learned re-ranker (retrieval.rerank) on a development set.

    python -m evaluation.rerank_train --docs D --qrels Q [--cv 5] [--out retrieval/rerank_model.json]
    python -m evaluation.rerank_train --docs D --qrels Q --pseudo 1500   # self-supervised, see below

The hand-set pipeline ranks every query once (re-ranker off) and the feature matrix of its best
``--depth`` documents is kept.  A linear model is fitted with a listwise softmax loss (the relevant
documents of a query should take the probability mass of a softmax over its candidates; L2 penalty) on
standardised features.
``--cv k`` reports the metrics of k-fold cross-validation over queries (each fold's model scores queries it
never saw): the honest numbers.  ``--pseudo N`` trains instead on N pseudo-queries made from the corpus
(a document's first sentence as the query, the document with that sentence removed as the answer: no
development query is used) and evaluates on the real queries.  ``--out`` writes the model trained on all
the training queries.
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

from core.settings import Settings
from evaluation.evaluate import load_qrels, metrics, open_throwaway
from retrieval.rerank import FEATURES, MODEL_FILE, RerankModel


@dataclass
class QueryData:
    x: np.ndarray  # features of the first documents (depth × FEATURES)
    ranked: list[str]  # the hand-set order (all documents)
    relevant: set[str]


def collect(retriever: Any, qrels: Sequence[tuple[str, set[str]]], depth: int) -> list[QueryData]:
    """Rank every query with the re-ranker off and keep the features of its first ``depth`` documents."""
    saved, retriever.reranker = retriever.reranker, None
    out: list[QueryData] = []
    try:
        for query, relevant in qrels:
            feats: list[np.ndarray] = []
            ranked, *_ = retriever.rank(query, features_out=feats, depth=depth)
            x = feats[0] if feats else np.zeros((0, len(FEATURES)))
            out.append(QueryData(x, [d.doc_id for d in ranked], relevant))
    finally:
        retriever.reranker = saved
    return out


def fit(data: Sequence[QueryData], l2: float = 1.0, depth: int = 20) -> RerankModel:
    """Listwise logistic (softmax) regression on standardised features: for each query, maximise the
    probability that a softmax over its first ``depth`` documents' scores puts on the relevant ones (the
    loss behind MRR), with an L2 penalty.  Queries without a relevant document among them are skipped."""
    allx = np.vstack([q.x[:depth] for q in data if len(q.x)])
    mean, scale = allx.mean(axis=0), allx.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lists: list[tuple[np.ndarray, np.ndarray]] = []
    for q in data:
        x = q.x[:depth]
        rel = np.array([d in q.relevant for d in q.ranked[: len(x)]], dtype=bool)
        if len(x) > 1 and rel.any():
            lists.append(((x - mean) / scale, rel))
    n = max(len(lists), 1)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = 0.0, np.zeros_like(beta)
        for z, rel in lists:
            s = z @ beta
            e = np.exp(s - s.max())
            p = e / e.sum()
            p_rel = float(p[rel].sum())
            value -= np.log(p_rel)
            grad += z.T @ (p - p * rel / p_rel)
        return value / n + 0.5 * l2 * float(beta @ beta) / n, grad / n + l2 * beta / n

    res = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B")
    return RerankModel(FEATURES, mean, scale, np.asarray(res.x), depth)


def reranked(model: RerankModel | None, data: Sequence[QueryData]) -> list[list[str]]:
    out = []
    for q in data:
        n = len(q.x)
        if model is None or n < 2:
            out.append(q.ranked[:10])
            continue
        order = np.argsort(-model.score(q.x), kind="stable")
        out.append(([q.ranked[int(j)] for j in order] + q.ranked[n:])[:10])
    return out


def score(model: RerankModel | None, data: Sequence[QueryData]) -> dict[str, float | int]:
    ranked = reranked(model, data)
    out = metrics(ranked, [("", q.relevant) for q in data], [])
    return {k: v for k, v in out.items() if not k.startswith("latency")}


def cross_validate(data: Sequence[QueryData], k: int = 5, seed: int = 13, **fit_args: Any
                   ) -> dict[str, float | int]:
    """Metrics of k-fold cross-validation over queries: each query is ranked by a model that never saw it."""
    idx = list(range(len(data)))
    random.Random(seed).shuffle(idx)
    folds = [idx[i::k] for i in range(k)]
    ranked: list[list[str]] = [[] for _ in data]
    for f in range(k):
        held = set(folds[f])
        model = fit([data[i] for i in idx if i not in held], **fit_args)
        for i, r in zip(folds[f], reranked(model, [data[i] for i in folds[f]]), strict=True):
            ranked[i] = r
    out = metrics(ranked, [("", q.relevant) for q in data], [])
    return {k: v for k, v in out.items() if not k.startswith("latency")}


_SENTENCE = re.compile(r"(?<=[。！？?!；;\n])")


def pseudo_queries(docs_path: Path, out_docs: Path, n: int, seed: int = 7,
                   min_chars: int = 8, max_chars: int = 60) -> list[tuple[str, set[str]]]:
    """Write a copy of the docs file in which ``n`` documents lose their first sentence, and return those
    sentences as queries with their document as the relevant one.  No development query is used."""
    with open(docs_path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    qrels: list[tuple[str, set[str]]] = []
    for i in order:
        if len(qrels) >= n:
            break
        body = str(records[i].get("body", ""))
        parts = [p for p in _SENTENCE.split(body) if p.strip()]
        if len(parts) < 2:
            continue
        first = parts[0].strip()
        if not min_chars <= len(first) <= max_chars:
            continue
        records[i] = {**records[i], "body": "".join(parts[1:]).strip()}
        qrels.append((first, {str(records[i]["id"])}))
    with open(out_docs, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return qrels


def dev_data(settings: Settings, docs: Path, qrels: Sequence[tuple[str, set[str]]], home: Path,
             depth: int) -> list[QueryData]:
    archive, retriever = open_throwaway(settings, docs, home, progress=True, reranker=None)
    try:
        return collect(retriever, qrels, depth)
    finally:
        archive.close()


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from core.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m evaluation.rerank_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--qrels", type=Path, required=True)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--pseudo", type=int, default=0, help="train on this many corpus pseudo-queries")
    parser.add_argument("--out", type=Path, default=None, help=f"write the model (e.g. {MODEL_FILE})")
    args = parser.parse_args(argv)
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="civic-rerank-") as tmp:
        settings = load_settings(Path(tmp) / "cfg")
        dev = dev_data(settings, args.docs, load_qrels(args.qrels), Path(tmp) / "dev", args.depth)
        report: dict[str, Any] = {"hand_set": score(None, dev)}
        if args.pseudo:
            pdocs = Path(tmp) / "pseudo.jsonl"
            pq = pseudo_queries(args.docs, pdocs, args.pseudo)
            train = dev_data(settings, pdocs, pq, Path(tmp) / "pseudo", args.depth)
            report["pseudo_queries"] = len(pq)
            report["pseudo_hand_set"] = score(None, train)
        else:
            train = dev
            report[f"cv{args.cv}"] = cross_validate(dev, args.cv, l2=args.l2, depth=args.depth)
        model = fit(train, l2=args.l2, depth=args.depth)
        report["trained_on_all"] = score(model, dev)
        say(json.dumps(report))
        if args.out:
            source = "pseudo-queries" if args.pseudo else "development queries"
            cmd = "python -m evaluation.rerank_train --docs D --qrels Q" + (
                f" --pseudo {args.pseudo}" if args.pseudo else "") + f" --depth {args.depth} --l2 {args.l2}"
            model = RerankModel(model.names, model.mean, model.scale, model.coef, model.depth,
                                {"trained_on": source, "command": cmd + f" --out {args.out}", **report})
            model.save(args.out)
        print(json.dumps(report))


if __name__ == "__main__":
    main()
