"""The full ``Retriever.search`` path at one corpus size, in two child processes.

``python -m bench.retriever build --size N --work DIR`` fills a throwaway archive under DIR with real
documents and their district editions (``bench.corpus``: every edition's passages are distinct texts) until
they split into about N passages, and times ``Retriever.warm_up()`` building the index with the configured
embedding model: every passage embedded by the model.  The model's vectors are cached by content hash
(``<home>/index/embeddings.db``, ``retrieval.embed_cache``), and that file is kept between runs
(``tidy`` removes the rest), so only the first run at a size embeds; that run's numbers are kept in
``DIR/uncached-build.json`` and reported with every later, cached one.

Above ``REAL_MAX`` passages (``--size 1000000``) embedding every passage would take an hour or more here:
the passages beyond the first ``REAL_MAX`` get the real vector of the same passage in an embedded edition
plus noise (``bench.corpus.perturbed_vectors``' rule), written into the home's cache before the build, so the
build itself embeds nothing and the query side is the real model.  ``--real-cache`` names the cache of the
``REAL_MAX`` run that holds the real vectors.

``python -m bench.retriever serve --work DIR`` starts a fresh process as the app does (``warm_up()`` loads
the model and the current index generation), then times ``Retriever.search`` on real citizen questions and
reports resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from archive.store import Archive
from bench.corpus import REAL_MAX, corpus_passages, documents, noise_for_cosine, queries
from core.settings import load_settings

MB = 1024 * 1024
CACHE_FILES = ("embeddings.db", "embeddings.db-wal", "embeddings.db-shm")
UNCACHED = "uncached-build.json"
QUERY_BATCH = 8  # at most this many texts in one encode call count as a query (as retrieval.use_encoder)


def load() -> list[float]:
    """The 1/5/15-minute load average now (what `uptime` shows)."""
    return [round(x, 2) for x in os.getloadavg()]


def code() -> dict[str, Any]:
    """The commit this process runs and the retrieval files changed on top of it: other engineers commit
    in this working tree while a long benchmark runs, so each phase says what it measured."""
    from bench.machine import git

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "retrieval", "core")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": sorted(line.split(maxsplit=1)[1] for line in dirty.splitlines() if line.strip())}


def tidy(work: Path) -> None:
    """Remove the benchmark home under ``work`` except its embedding cache (and the uncached record)."""
    home = work / "home"
    if not home.exists():
        return
    for entry in home.iterdir():
        if entry.name == "index" and entry.is_dir():
            for item in entry.iterdir():
                if item.name not in CACHE_FILES:
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
        elif entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class TimedEmbedder:
    """The real embedder, timing what it is asked: batches (the index build) and queries, separately."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.reports_progress = bool(getattr(real, "reports_progress", False))
        self.batch_s = 0.0
        self.batch_texts = self.batch_chars = 0
        self.query_ms: list[float] = []
        self.threads_used: dict[int, int] = {}  # BLAS threads the encoder chose -> texts
        self.processes_used: dict[int, int] = {}  # worker processes the encoder chose -> texts

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        if len(texts) > QUERY_BATCH and hasattr(self.real, "threads_for"):  # what encode is about to choose
            used = int(self.real.threads_for(len(texts)))
            self.threads_used[used] = self.threads_used.get(used, 0) + len(texts)
        if len(texts) > QUERY_BATCH and hasattr(self.real, "processes_for"):
            procs = int(self.real.processes_for(len(texts)))
            self.processes_used[procs] = self.processes_used.get(procs, 0) + len(texts)
        start = time.perf_counter()
        if progress is not None and self.reports_progress:
            vecs = self.real.encode(texts, batch_size, progress=progress)
        else:
            vecs = self.real.encode(texts, batch_size)
        took = time.perf_counter() - start
        if len(texts) <= QUERY_BATCH:
            self.query_ms.append(took * 1000)
        else:
            self.batch_s += took
            self.batch_texts += len(texts)
            self.batch_chars += sum(map(len, texts))
        return np.asarray(vecs)

    def batch(self) -> Any:
        """The real encoder's worker-process block (retrieval.use_encoder), when it has one."""
        session = getattr(self.real, "batch", None)
        return session() if callable(session) else nullcontext()

    def unknown_mask(self, text: str) -> Any:
        return self.real.unknown_mask(text)

    def unknown_share(self, text: str) -> float:
        return float(self.real.unknown_share(text))


class SyntheticEmbedder:
    """Above ``REAL_MAX`` passages: the real vectors of the first ``REAL_MAX`` passages (read from the cache
    of the ``REAL_MAX`` run; any missing there embedded for real), and for every other text the real vector
    of the same passage in an embedded edition plus Gaussian noise that keeps the measured cosine of an
    edition to its original.  A text that is no corpus passage (a document's name, when the index embeds
    those) gets a real vector chosen by its hash, plus the same noise.  Queries (a few texts) are embedded
    by the real model."""

    def __init__(self, real: Any, cps: list[Any], real_cache: Path) -> None:
        from retrieval.embed_cache import EmbeddingCache

        self.real, self.name, self.dim = real, real.name, real.dim
        real_cps = cps[:REAL_MAX]
        cache = EmbeddingCache(real_cache, real.name, real.dim)
        self.base = cache.encode(real, [c.text for c in real_cps], desc="real vectors")
        self.stats: dict[str, Any] = {"real_vectors": len(real_cps), "real_embedded_now": cache.misses}
        cache.close()
        self.known = {c.text: i for i, c in enumerate(real_cps)}
        rows: dict[str, list[int]] = {}
        for i, c in enumerate(real_cps):
            rows.setdefault(c.key, []).append(i)
        pairs = [(i, r[0]) for r in rows.values() if len(r) > 1 for i in r[1:] if real_cps[r[0]].copy == 0]
        a, b = [i for i, _ in pairs], [j for _, j in pairs]
        cosines = np.einsum("ij,ij->i", self.base[a], self.base[b]) if pairs else np.array([0.95])
        self.cosine = float(np.median(cosines))
        self.noise = noise_for_cosine(self.cosine)
        self.source: dict[str, int] = {}
        for j, c in enumerate(cps[REAL_MAX:], start=REAL_MAX):
            same = rows.get(c.key)
            self.source.setdefault(c.text, same[c.copy % len(same)] if same else j % len(real_cps))
        self.synthetic = self.by_hash = 0
        self.stats.update(noise=round(self.noise, 3), edition_cosine_median=round(self.cosine, 3))

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) <= QUERY_BATCH:
            return np.asarray(self.real.encode(texts, batch_size))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            row = self.known.get(text)
            if row is not None:
                out[i] = self.base[row]
                continue
            src = self.source.get(text)
            if src is None:
                src = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big") % len(self.base)
                self.by_hash += 1
            self.synthetic += 1
            seed = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[8:16], "big")
            jitter = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            vec = self.base[src] + jitter * (self.noise / np.sqrt(self.dim))
            out[i] = vec / np.linalg.norm(vec)
        return out

    def unknown_mask(self, text: str) -> Any:
        return self.real.unknown_mask(text)

    def unknown_share(self, text: str) -> float:
        return float(self.real.unknown_share(text))

    def report(self) -> dict[str, Any]:
        return {**self.stats, "synthetic_vectors": self.synthetic, "synthetic_by_hash": self.by_hash}


def _cached(path: Path, embedder: Any) -> int:
    """How many vectors of this model the cache at ``path`` holds (0 when there is no cache yet)."""
    from retrieval.embed_cache import EmbeddingCache

    if not path.exists():
        return 0
    cache = EmbeddingCache(path, embedder.name, embedder.dim)
    try:
        return len(cache)
    finally:
        cache.close()


def _dense_count(retriever: Any) -> int:
    state = retriever._state
    return len(state.dense) if state is not None and state.dense is not None else 0


def build(size: int, work: Path, model: str, index_threads: int, real_cache: Path | None) -> dict[str, Any]:
    from retrieval.config import RetrievalConfig
    from retrieval.embedder import load_embedder
    from retrieval.service import Retriever

    started_load = load()
    tidy(work)
    home = work / "home"
    settings = load_settings(home)
    settings.paths.ensure()
    start = time.perf_counter()
    docs = list(documents(size))
    archive = Archive(settings.paths.archive_db)
    with archive.transaction():
        for doc in docs:
            archive.upsert(doc)
    t_archive = time.perf_counter() - start
    real = load_embedder(model or settings.embedding_model, threads=index_threads,
                         processes=settings.embedding_processes)  # what Retriever.warm_up would load
    synthetic: SyntheticEmbedder | None = None
    if size > REAL_MAX:
        if real_cache is None:
            raise SystemExit(f"above {REAL_MAX} passages --real-cache must name the {REAL_MAX} run's cache")
        synthetic = SyntheticEmbedder(real, corpus_passages(size), real_cache)
    embedder = TimedEmbedder(synthetic or real)
    config = RetrievalConfig.of(settings)
    cached_before = _cached(config.index_dir / CACHE_FILES[0], embedder)
    retriever = Retriever(config, archive, embedder=embedder)
    build_load = load()
    start = time.perf_counter()
    retriever.warm_up()  # no index yet: builds one (lexical, embedding of what the cache lacks, dense index)
    t_build = time.perf_counter() - start
    report = retriever._last_report
    cache = retriever.lifecycle.cache(embedder)
    lengths = [len(p.searchable) for p in retriever._state.passages] if retriever._state else [0]
    mean_chars = statistics.mean(lengths)
    embed_rate = embedder.batch_texts / embedder.batch_s if embedder.batch_s else 0.0
    chars_rate = embedder.batch_chars / embedder.batch_s if embedder.batch_s else 0.0
    result: dict[str, Any] = {
        "size": size, "documents": report.documents, "passages": report.passages,
        "mean_passage_chars": round(mean_chars, 1),
        "archive_fill_s": round(t_archive, 1), "warm_up_and_build_s": round(t_build, 1),
        "passages_per_s": round(report.passages / max(report.seconds, 1e-9), 1),
        "dense_enabled": report.dense_enabled, "dense_vectors": _dense_count(retriever),
        "cached_before": cached_before, "embedded_with_model": cache.misses, "vectors_from_cache": cache.hits,
        "embed_s": round(embedder.batch_s, 1), "embed_passages_per_s": round(embed_rate, 1),
        "embed_chars_per_s": round(chars_rate), "embed_200char_passages_per_s": round(chars_rate / 200, 1),
        "index_threads": getattr(real, "index_threads", index_threads),
        "threads_used": {str(k): v for k, v in sorted(embedder.threads_used.items())},
        "processes_used": {str(k): v for k, v in sorted(embedder.processes_used.items())},
        "rest_s": round(report.seconds - embedder.batch_s, 1),
        "fitness_weight": report.fitness.get("corpus_weight"),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load": {"start": started_load, "build_start": build_load, "end": load()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "code": code(),
    }
    if synthetic is not None:
        result["synthetic"] = synthetic.report()
    record = work / UNCACHED
    if synthetic is None and cached_before == 0:  # the first build at this size: nothing was cached
        record.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    elif record.exists():
        result["uncached"] = json.loads(record.read_text(encoding="utf-8"))
    return result


def serve(work: Path, model: str) -> dict[str, Any]:
    from retrieval.config import RetrievalConfig
    from retrieval.embedder import load_embedder
    from retrieval.service import Retriever

    started_load = load()
    proc = psutil.Process()
    settings = load_settings(work / "home")
    archive = Archive(settings.paths.archive_db)
    before = proc.memory_info().rss / MB
    start = time.perf_counter()
    embedder = TimedEmbedder(load_embedder(model or settings.embedding_model))
    retriever = Retriever(RetrievalConfig.of(settings), archive, embedder=embedder)
    retriever.warm_up()
    t_warm = time.perf_counter() - start
    after_warm = proc.memory_info().rss / MB
    qs = queries()
    times, cpu = [], []
    found = 0
    query_load = load()
    for i, query in enumerate(qs[:10] + qs):  # the first 10 warm caches and are not counted
        if i == 10:
            embedder.query_ms.clear()
        c0, t0 = time.process_time(), time.perf_counter()
        hits = retriever.search(query, top_k=5)
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            found += bool(hits)

    def pct(values: list[float]) -> dict[str, float]:
        return {"p50": round(float(np.percentile(values, 50)), 2),
                "p95": round(float(np.percentile(values, 95)), 2),
                "max": round(max(values), 2)} if values else {}

    return {
        "warm_up_s": round(t_warm, 1), "queries": len(qs), "queries_with_hits": found,
        "latency_ms": pct(times), "cpu_ms": pct(cpu),
        "query_embedding_ms": pct(embedder.query_ms), "queries_embedded": len(embedder.query_ms),
        "memory": {"before_mb": round(before), "after_warm_up_mb": round(after_warm),
                   "end_mb": round(proc.memory_info().rss / MB),
                   "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)},
        "info": retriever.info(),
        "load": {"start": started_load, "queries_start": query_load, "end": load()}, "code": code(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.retriever")
    parser.add_argument("phase", choices=["build", "serve"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--model", default="", help="embedding model (default: the configured one)")
    parser.add_argument("--index-threads", type=int, default=0,
                        help="encoder threads for the build (default: the encoder's own, all cores)")
    parser.add_argument("--real-cache", type=Path, default=None,
                        help=f"above {REAL_MAX} passages: the embeddings.db of the {REAL_MAX} run")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.phase == "build":
        result = build(args.size, args.work, args.model, args.index_threads, args.real_cache)
    else:
        result = serve(args.work, args.model)
    json.dump(result, sys.stdout, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
