"""Retrieval benchmark at one corpus size, in two child processes so memory is measured cleanly.

``python -m bench.retrieval build --size N --work DIR`` synthesises N passages, builds the lexical index
(bm25s over the project tokenizer) and the dense index (FAISS, ``DenseIndex.build`` with the configured
threshold) and commits both into an ``IndexStore`` generation under DIR; it prints build timings as JSON.

``python -m bench.retrieval serve --work DIR`` is what a server does: load the embedding model, open the
current generation, answer the benchmark queries (normalise → BM25 top 50, embed → dense top 50 → reciprocal
rank fusion), and report latency percentiles, ANN recall against exact search, and resident memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.corpus import (
    CACHE,
    DISTRICTS,
    base_passages,
    cache_key,
    perturbed_vectors,
    queries,
    random_unit_vectors,
)
from core.settings import Settings
from retrieval.dense import DenseIndex
from retrieval.embedder import SentenceEmbedder, load_embedder
from retrieval.fitness import check
from retrieval.index_store import IndexStore

REAL_EMBEDDED = 2000  # base passages embedded with the real model (cached); the rest are perturbed copies
RANDOM_ABOVE = 500_000  # above this size the dense vectors are random unit vectors (see RESULTS.md)
TOP = 50
MB = 1024 * 1024


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def _tokenizer() -> Any:
    from retrieval.normalize import normalize, normalize_query
    from retrieval.tokenize import Tokenizer

    tok = Tokenizer()
    tok.warm_up()
    return tok, normalize, normalize_query


def real_vectors(embedder: SentenceEmbedder, texts: list[str]) -> tuple[np.ndarray, dict[str, float]]:
    """Real embeddings of ``texts`` (cached under var/bench) and the model's measured throughput."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"emb-{cache_key(embedder.name, *texts[:50], len(texts))}.npy"
    sample = texts[:200]
    start = time.perf_counter()
    embedder.encode(sample, batch_size=32)
    rate = len(sample) / (time.perf_counter() - start)
    if path.exists():
        vecs = np.load(path)
    else:
        vecs = embedder.encode(texts, batch_size=32)
        np.save(path, vecs)
    return vecs, {"model_passages_per_s": round(rate, 1), "model_sample": len(sample)}


def build(size: int, work: Path, model: str, threshold: int) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size}
    base, source = base_passages()
    out["source"] = source
    tok, normalize, _ = _tokenizer()
    import bm25s

    # lexical: the first min(size, base) passages are really tokenised (that is the throughput reported);
    # copies reuse their original's tokens plus their district's, as their text differs only by that suffix
    n_real = min(size, len(base))
    start = time.perf_counter()
    base_tokens = [tok.tokens(normalize(t)) for t in base[:n_real]]
    t_tok = time.perf_counter() - start
    district_tokens = [tok.tokens(normalize(d)) for d in DISTRICTS]
    corpus = base_tokens + [base_tokens[i % n_real] + district_tokens[(i // n_real) % len(DISTRICTS)]
                            for i in range(n_real, size)]
    start = time.perf_counter()
    lexical = bm25s.BM25(k1=0.8, b=0.9, method="lucene")
    lexical.index(corpus, show_progress=False)
    t_bm25 = time.perf_counter() - start
    del corpus
    gc.collect()
    out["lexical"] = {
        "tokenised_passages": n_real,
        "tokenise_s": round(t_tok, 2),
        "bm25_index_s": round(t_bm25, 2),
        "passages_per_s": round(1.0 / (t_tok / n_real + t_bm25 / size), 1),
        "total_s_at_size": round(t_tok * size / n_real + t_bm25, 1),
    }

    # dense
    embedder = load_embedder(model)
    n_vec = min(REAL_EMBEDDED, len(base))
    base_vecs, rates = real_vectors(embedder, base[:n_vec])
    fitness = check(embedder, base)
    if size > RANDOM_ABOVE:
        vecs, kind = random_unit_vectors(size, embedder.dim), "random unit vectors"
    else:
        vecs = perturbed_vectors(base_vecs, size, noise=0.5)
        kind = (f"{n_vec} real embeddings + perturbed copies (noise 0.5)" if size > n_vec
                else "real embeddings")
    ids = [f"p{i}" for i in range(size)]
    start = time.perf_counter()
    dense = DenseIndex.build(ids, vecs, threshold=threshold)
    t_dense = time.perf_counter() - start
    out["dense"] = {"vectors": kind, "index": dense.kind, "nlist": dense.nlist, "nprobe": dense.nprobe,
                    "index_build_s": round(t_dense, 2), **rates,
                    "model_build_estimate_s": round(size / rates["model_passages_per_s"], 0)}
    out["fitness"] = fitness.summary()

    # exact neighbours of the real query embeddings, for the recall measurement in `serve`
    qvecs = embedder.encode(queries(), batch_size=32)
    exact = DenseIndex(embedder.dim, "flat")
    exact.add(ids, vecs)
    truth = [[pid for pid, _ in row] for row in exact.search(qvecs, 10)]
    del exact, vecs
    gc.collect()

    start = time.perf_counter()
    store = IndexStore(work / "index")
    with store.build(change_seq=0, model=model, passages=size) as tx:
        dense.save(tx.component_dir("dense"))
        lexical.save(str(tx.component_dir("lexical")), show_progress=False)
        tx.write_json("fitness.json", fitness.to_dict())
    out["save_s"] = round(time.perf_counter() - start, 2)
    (work / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    out["build_peak_rss_mb"] = peak_mb()
    return out


def _rrf(*rankings: list[str], k: int = 60) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=scores.__getitem__, reverse=True)[:10]


def serve(work: Path, model: str, nprobes: list[int]) -> dict[str, Any]:
    import bm25s

    out: dict[str, Any] = {}
    tok, _, normalize_query = _tokenizer()
    mem: dict[str, float] = {"after_imports_mb": round(rss_mb())}
    embedder = load_embedder(model)
    embedder.encode(["warm up"])
    mem["with_model_mb"] = round(rss_mb())
    store = IndexStore(work / "index")

    def load(snap: Any) -> tuple[Any, DenseIndex]:
        return (bm25s.BM25.load(str(snap.component("lexical")), show_progress=False),
                DenseIndex.load(snap.component("dense")))

    start = time.perf_counter()
    loaded = store.read(load)
    assert loaded is not None, "no index generation: run build first"
    lexical, dense = loaded
    out["load_s"] = round(time.perf_counter() - start, 2)
    gc.collect()
    mem["with_indexes_mb"] = round(rss_mb())

    qs = queries()
    timings: dict[str, list[float]] = {"total": [], "lexical": [], "embed": [], "dense": [], "total_cpu": []}
    vocab = lexical.vocab_dict
    for i, query in enumerate(qs[:10] + qs):  # the first 10 warm caches and are not counted
        c0, t0 = time.process_time(), time.perf_counter()
        tokens = [t for t in tok.tokens(normalize_query(query)) if t in vocab] or [""]
        scores = lexical.get_scores(tokens)
        top = np.argpartition(-scores, TOP)[:TOP]
        lex_ids = [f"p{j}" for j in top[np.argsort(-scores[top])]]
        t1 = time.perf_counter()
        qvec = embedder.encode([query])
        t2 = time.perf_counter()
        dense_ids = [pid for pid, _ in dense.search(qvec, TOP)[0]]
        t3 = time.perf_counter()
        _rrf(lex_ids, dense_ids)
        t4 = time.perf_counter()
        if i >= 10:
            parts = {"lexical": t1 - t0, "embed": t2 - t1, "dense": t3 - t2, "total": t4 - t0,
                     "total_cpu": time.process_time() - c0}
            for key, value in parts.items():
                timings[key].append(value * 1000)
    out["latency_ms"] = {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in timings.items()}
    out["queries"] = len(qs)

    truth = json.loads((work / "truth.json").read_text(encoding="utf-8"))
    qvecs = embedder.encode(qs, batch_size=32)
    sweep = []
    for nprobe in nprobes if dense.kind == "ivf" else [0]:
        if nprobe:
            dense.nprobe = nprobe
        times, hits = [], 0
        for qv, want in zip(qvecs, truth, strict=True):
            t0 = time.perf_counter()
            got = dense.search(qv, 10)[0]
            times.append((time.perf_counter() - t0) * 1000)
            hits += len({pid for pid, _ in got} & set(want))
        sweep.append({"nprobe": nprobe or None, "recall@10": round(hits / (10 * len(truth)), 3),
                      "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)})
    out["dense_recall"] = sweep
    mem["end_mb"] = round(rss_mb())
    mem["peak_mb"] = peak_mb()
    out["memory"] = mem
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.retrieval")
    parser.add_argument("phase", choices=["build", "serve"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--model", default=Settings().embedding_model)
    parser.add_argument("--threshold", type=int, default=Settings().dense_index_threshold)
    parser.add_argument("--nprobe", default="8,16,32,64,128")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.phase == "build":
        result = build(args.size, args.work, args.model, args.threshold)
    else:
        result = serve(args.work, args.model, [int(n) for n in args.nprobe.split(",")])
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
