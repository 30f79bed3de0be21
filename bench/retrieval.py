"""Retrieval components at one corpus size, in child processes so memory is measured cleanly.

``python -m bench.retrieval encoder`` times the embedding model alone: passages/s on real 200-character
passages in one process with one BLAS thread and with one per core, in the encoder's worker processes (one
per core, one thread each: an index build's way; with the workers already up, and with their start-up), and
query embedding latency on real questions.

``python -m bench.retrieval build --size N --work DIR --cache DB`` takes the first N passages of the
benchmark corpus (``bench.corpus``: real documents and their district editions, every passage a distinct
text), builds the lexical index (bm25s over the project tokenizer) and the dense index (FAISS,
``DenseIndex.build`` with the configured threshold) and commits both into an ``IndexStore`` generation under
DIR.  Dense vectors are the model's, read from (or embedded into) the content-hash cache ``DB`` — the full
path's cache of the same corpus, so they are embedded once.  Above ``REAL_MAX`` passages the first
``REAL_MAX`` are real and the rest are their ``perturbed_vectors`` with the noise that keeps the measured
cosine between a district edition and its original; the lexical side reuses their tokens plus the
district's.  With ``--alternatives`` an IVF-PQ index over the same vectors is built too, for its recall.

``python -m bench.retrieval serve --work DIR`` is what a server does: load the embedding model, open the
current generation, answer the benchmark queries (normalise → BM25 top 50, embed → dense top 50 → reciprocal
rank fusion), and report latency percentiles, ANN recall against exact search on the real query vectors,
and resident memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.corpus import (
    DISTRICTS,
    REAL_MAX,
    corpus_passages,
    noise_for_cosine,
    perturbed_vectors,
    queries,
    windows,
)
from bench.retriever import code, load
from core.settings import Settings
from retrieval.dense import DenseIndex, ivf_cells
from retrieval.embedder import load_embedder
from retrieval.fitness import check
from retrieval.index_store import IndexStore

TOP = 50
MB = 1024 * 1024
ENCODER_SAMPLE = 600  # 200-character passages timed per thread count
PQ_M, PQ_BITS = 64, 8  # the IVF-PQ alternative: 64 sub-vectors of 8 dimensions, 256 centroids each (64 B)
ALTERNATIVES = {"ivfpq": f"IVF-PQ {PQ_M} B", "ivfsq8": "IVF 8-bit scalar (512 B)"}  # file stem -> label


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


def _pooled(model: str, texts: list[str]) -> list[dict[str, Any]]:
    """The encoder's own worker processes (``embedding_processes`` 0: one per core, one BLAS thread each):
    once inside a ``batch()`` block whose workers are already up (an index build's steady state), and once
    as a lone call that starts and stops its own workers."""
    emb: Any = load_embedder(model, processes=0)
    rows: list[dict[str, Any]] = []
    n = emb.processes_for(len(texts)) if hasattr(emb, "processes_for") else 1
    if n <= 1 or not hasattr(emb, "batch"):
        return rows
    with emb.batch():
        emb.encode(texts[:2 * emb.chunk])  # the workers start and load the model
        before = load()
        t0 = time.perf_counter()
        emb.encode(texts)
        wall = time.perf_counter() - t0
    rows.append({"threads": f"{n} processes × 1 (workers up)", "passages_per_s": round(len(texts) / wall, 1),
                 "wall_s": round(wall, 1), "cpu_s": None, "load": {"start": before, "end": load()}})
    before = load()
    t0 = time.perf_counter()
    emb.encode(texts)
    wall = time.perf_counter() - t0
    rows.append({"threads": f"{n} processes × 1 (with their start)",
                 "passages_per_s": round(len(texts) / wall, 1),
                 "wall_s": round(wall, 1), "cpu_s": None, "load": {"start": before, "end": load()}})
    return rows


def encoder(model: str) -> dict[str, Any]:
    """The model alone: 200-character passages/s in one process by BLAS thread count (exactly as asked), and
    in the encoder's worker processes, and query embedding latency."""
    texts = windows([c.text for c in corpus_passages(20_000)], ENCODER_SAMPLE)
    out: dict[str, Any] = {"model": model, "sample": len(texts), "chars": 200, "passages": [], "code": code()}
    for threads in sorted({1, os.cpu_count() or 1}):
        emb = load_embedder(model, threads=threads)  # in-process (processes=1)
        emb.encode(texts[:32])
        before = load()
        used = emb.threads_for(len(texts)) if hasattr(emb, "threads_for") else threads
        c0, t0 = time.process_time(), time.perf_counter()
        emb.encode(texts, batch_size=32)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out["passages"].append({"threads": threads if used == threads else f"{threads} asked, {used} used",
                                "passages_per_s": round(len(texts) / wall, 1),
                                "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                "load": {"start": before, "end": load()}})
    if (os.cpu_count() or 1) > 1:
        out["passages"] += _pooled(model, texts)
    emb = load_embedder(model)
    qs = queries()
    times, cpu_ms = [], []
    before = load()
    for i, query in enumerate(qs[:10] + qs):
        c0, t0 = time.process_time(), time.perf_counter()
        emb.encode([query])
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
    out["query_ms"] = {"p50": pct(times, 50), "p95": pct(times, 95), "max": round(max(times), 2),
                       "cpu_p50": pct(cpu_ms, 50), "cpu_p95": pct(cpu_ms, 95), "queries": len(times),
                       "load": {"start": before, "end": load()}}
    return out


def exact_top(vecs: np.ndarray, qvecs: np.ndarray, k: int) -> list[list[int]]:
    """Row numbers of the exact top ``k`` inner products per query (blockwise, no second copy of vecs)."""
    best_s = np.full((len(qvecs), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(qvecs), k), dtype=np.int64)
    for start in range(0, len(vecs), 65536):
        block = vecs[start:start + 65536] @ qvecs.T  # (rows, queries)
        s = np.concatenate([best_s, block.T], axis=1)
        i = np.concatenate([best_i, np.arange(start, start + len(block))[None, :].repeat(len(qvecs), 0)], 1)
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_i, order, 1).tolist()


def edition_cosines(cps: list[Any], vecs: np.ndarray) -> dict[str, float]:
    """Cosine between each district edition's passage and the same passage of the original document."""
    first: dict[str, int] = {}
    pairs = []
    for i, c in enumerate(cps):
        if c.copy == 0:
            first.setdefault(c.key, i)
        elif c.key in first:
            pairs.append((i, first[c.key]))
    if not pairs:
        return {}
    a, b = np.array(pairs).T
    cos = np.einsum("ij,ij->i", vecs[a], vecs[b])
    return {"pairs": len(pairs), "p10": round(float(np.percentile(cos, 10)), 3),
            "median": round(float(np.median(cos)), 3), "p90": round(float(np.percentile(cos, 90)), 3)}


def _alternative(kind: str, vecs: np.ndarray, nlist: int) -> Any:
    """An index DenseIndex does not offer, over the same vectors and cells, for its recall and size."""
    import faiss

    dim = vecs.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    index: Any
    if kind == "ivfpq":
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, PQ_M, PQ_BITS, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    rows = np.random.default_rng(0).choice(len(vecs), min(len(vecs), max(nlist * 64, 65536)), replace=False)
    index.train(vecs[np.sort(rows)])
    index.add(vecs)
    return index


def build(size: int, work: Path, model: str, threshold: int, cache_path: Path, index_threads: int,
          alternatives: bool) -> dict[str, Any]:
    from retrieval.embed_cache import EmbeddingCache

    out: dict[str, Any] = {"size": size, "load": {"start": load()}, "code": code()}
    n_real = min(size, REAL_MAX)
    cps = corpus_passages(n_real)[:n_real]
    texts = [c.text for c in cps]
    out["source"] = (f"{n_real} passages of bench.corpus ({sum(c.copy == 0 for c in cps)} of the real "
                     f"documents, {sum(c.copy > 0 for c in cps)} of their district editions), "
                     f"{len(set(texts))} distinct texts, mean {round(sum(map(len, texts)) / n_real)} chars")
    tok, normalize, _ = _tokenizer()
    import bm25s

    # lexical: the n_real passages are really tokenised (that is the throughput reported); above REAL_MAX
    # a copy reuses its source's tokens plus a district's
    start = time.perf_counter()
    real_tokens = [tok.tokens(normalize(t)) for t in texts]
    t_tok = time.perf_counter() - start
    district_tokens = [tok.tokens(normalize(d)) for d in DISTRICTS]
    corpus = real_tokens + [real_tokens[i % n_real] + district_tokens[(i // n_real) % len(DISTRICTS)]
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

    # dense: the model's vectors of the real passages, through the content-hash cache
    embedder = load_embedder(model, threads=index_threads)
    cache = EmbeddingCache(cache_path, embedder.name, embedder.dim)
    embed_load = load()
    start = time.perf_counter()
    real_vecs = cache.encode(embedder, texts, desc="embedding")
    t_embed = time.perf_counter() - start
    out["embedding"] = {"embedded_now": cache.misses, "from_cache": cache.hits, "seconds": round(t_embed, 1),
                        "passages_per_s": round(cache.misses / t_embed, 1) if cache.misses else None,
                        "load": {"start": embed_load, "end": load()}}
    cache.close()
    closeness = edition_cosines(cps, real_vecs)
    out["edition_cosine"] = closeness
    fitness = check(embedder, texts)
    if size > n_real:
        noise = noise_for_cosine(closeness.get("median", 0.95))
        vecs = perturbed_vectors(real_vecs, size, noise=noise)
        kind = (f"{n_real} real embeddings + {size - n_real} perturbed copies of them (noise {noise:.2f}: "
                f"cosine {closeness.get('median')} to their source, the median of a real edition to its "
                "original)")
    else:
        vecs, kind = real_vecs, "real embeddings of every passage"
    del real_vecs
    ids = [f"p{i}" for i in range(size)]
    start = time.perf_counter()
    dense = DenseIndex.build(ids, vecs, threshold=threshold)
    t_dense = time.perf_counter() - start
    out["dense"] = {"vectors": kind, "index": dense.kind, "nlist": dense.nlist, "nprobe": dense.nprobe,
                    "dim": dense.dim, "index_build_s": round(t_dense, 2)}
    out["fitness"] = fitness.summary()

    # exact neighbours of the real query embeddings, for the recall measurement in `serve`
    qvecs = embedder.encode(queries(), batch_size=32)
    truth = [[f"p{j}" for j in row] for row in exact_top(vecs, qvecs, 10)]
    if alternatives and dense.kind == "ivf":
        import faiss

        out["alternatives"] = {}
        for kind in ALTERNATIVES:
            start = time.perf_counter()
            alt = _alternative(kind, vecs, dense.nlist or ivf_cells(size))
            path = work / f"alt-{kind}.faiss"
            faiss.write_index(alt, str(path))
            out["alternatives"][kind] = {"nlist": alt.nlist, "build_s": round(time.perf_counter() - start, 1),
                                         "file_mb": round(path.stat().st_size / MB)}
            del alt
    del vecs
    gc.collect()

    start = time.perf_counter()
    store = IndexStore(work / "index")
    with store.build(change_seq=0, model=model, passages=size) as tx:
        dense.save(tx.component_dir("dense"))
        lexical.save(str(tx.component_dir("lexical")), show_progress=False)
        tx.write_json("fitness.json", fitness.to_dict())
    out["save_s"] = round(time.perf_counter() - start, 2)
    out["dense"]["file_mb"] = round(sum(f.stat().st_size for f in (work / "index").rglob("dense*")
                                        if f.is_file()) / MB)
    (work / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    out["build_peak_rss_mb"] = peak_mb()
    out["load"]["end"] = load()
    return out


def _rrf(*rankings: list[str], k: int = 60) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=scores.__getitem__, reverse=True)[:10]


def _sweep(search: Any, qvecs: np.ndarray, truth: list[list[str]], nprobes: list[int]
           ) -> list[dict[str, Any]]:
    sweep = []
    for nprobe in nprobes:
        times, hits = [], 0
        for qv, want in zip(qvecs, truth, strict=True):
            t0 = time.perf_counter()
            got = search(qv, nprobe)
            times.append((time.perf_counter() - t0) * 1000)
            hits += len(set(got) & set(want))
        sweep.append({"nprobe": nprobe or None, "recall@10": round(hits / (10 * len(truth)), 3),
                      "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)})
    return sweep


def serve(work: Path, model: str, nprobes: list[int]) -> dict[str, Any]:
    import bm25s

    out: dict[str, Any] = {"load": {"start": load()}, "code": code()}
    tok, _, normalize_query = _tokenizer()
    mem: dict[str, float] = {"after_imports_mb": round(rss_mb())}
    embedder = load_embedder(model)
    embedder.encode(["warm up"])
    mem["with_model_mb"] = round(rss_mb())
    store = IndexStore(work / "index")

    def load_indexes(snap: Any) -> tuple[Any, DenseIndex]:
        return (bm25s.BM25.load(str(snap.component("lexical")), show_progress=False),
                DenseIndex.load(snap.component("dense")))

    start = time.perf_counter()
    loaded = store.read(load_indexes)
    assert loaded is not None, "no index generation: run build first"
    lexical, dense = loaded
    out["load_s"] = round(time.perf_counter() - start, 2)
    gc.collect()
    mem["with_indexes_mb"] = round(rss_mb())

    qs = queries()
    timings: dict[str, list[float]] = {"total": [], "lexical": [], "embed": [], "dense": [], "total_cpu": []}
    vocab = lexical.vocab_dict
    out["load"]["queries_start"] = load()
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
    out["load"]["queries_end"] = load()

    truth = json.loads((work / "truth.json").read_text(encoding="utf-8"))
    qvecs = embedder.encode(qs, batch_size=32)

    def search_dense(qv: np.ndarray, nprobe: int) -> list[str]:
        if nprobe:
            dense.nprobe = nprobe
        return [pid for pid, _ in dense.search(qv, 10)[0]]

    default = dense.nprobe
    probes = sorted({*nprobes, default}) if dense.kind == "ivf" else [0]
    out["dense_recall"] = _sweep(search_dense, qvecs, truth, probes)
    out["default_nprobe"] = default if dense.kind == "ivf" else None
    mem["end_mb"] = round(rss_mb())
    mem["peak_mb"] = peak_mb()
    out["memory"] = mem
    for kind in ALTERNATIVES:  # after the memory readings: an alternative is not part of the serving process
        path = work / f"alt-{kind}.faiss"
        if not path.exists():
            continue
        import faiss

        alt: Any = faiss.read_index(str(path))

        def search_alt(qv: np.ndarray, nprobe: int, alt: Any = alt) -> list[str]:
            alt.nprobe = nprobe
            _, labels = alt.search(qv.reshape(1, -1).astype(np.float32), 10)
            return [f"p{j}" for j in labels[0] if j >= 0]

        out[f"{kind}_recall"] = _sweep(search_alt, qvecs, truth, probes)
        del alt
    out["load"]["end"] = load()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.retrieval")
    parser.add_argument("phase", choices=["encoder", "build", "serve"])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--model", default=Settings().embedding_model)
    parser.add_argument("--threshold", type=int, default=Settings().dense_index_threshold)
    parser.add_argument("--cache", type=Path, default=None, help="embeddings.db to read vectors from")
    parser.add_argument("--index-threads", type=int, default=0)
    parser.add_argument("--alternatives", action="store_true",
                        help="also IVF-PQ and IVF 8-bit indexes over the same vectors (recall, size)")
    parser.add_argument("--nprobe", default="8,16,32,64,128")
    args = parser.parse_args(argv)
    if args.phase == "encoder":
        result = encoder(args.model)
    else:
        if args.work is None:
            parser.error("--work is required")
        args.work.mkdir(parents=True, exist_ok=True)
        if args.phase == "build":
            result = build(args.size, args.work, args.model, args.threshold,
                           args.cache or args.work / "embeddings.db", args.index_threads, args.alternatives)
        else:
            result = serve(args.work, args.model, [int(n) for n in args.nprobe.split(",")])
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
