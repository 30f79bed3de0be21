"""Measure retrieval quality on a development set, and tune the few ranking parameters on it.

``evaluate_files`` imports a generic-JSONL docs file into a throwaway home (a temporary directory, so the
main archive is never touched), indexes it with the configured pipeline, runs every query of a qrels file
(``{"query": str, "relevant": [id, ...]}`` per line) and returns Recall@1/5/10, MRR@10, nDCG@10 and the
query latency percentiles.  ``tune`` grid-searches the lexical/fusion parameters on the same data; the
results behind the defaults are recorded in bench/RETRIEVAL_QUALITY.md.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInput
from core.settings import Settings

KEYS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "latency_ms_p50", "latency_ms_p95",
        "n_queries")


def load_qrels(path: Path) -> list[tuple[str, set[str]]]:
    out: list[tuple[str, set[str]]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                query, relevant = str(rec["query"]), {str(r) for r in rec["relevant"]}
            except (ValueError, KeyError, TypeError) as exc:
                expected = '{"query": str, "relevant": [id, ...]}'
                raise InvalidInput(f"{path}:{n}: expected {expected} ({exc})") from exc
            if query.strip() and relevant:
                out.append((query, relevant))
    if not out:
        raise InvalidInput(f"{path}: no queries")
    return out


def metrics(ranked: Sequence[Sequence[str]], qrels: Sequence[tuple[str, set[str]]],
            latencies_ms: Sequence[float]) -> dict[str, float | int]:
    """Recall@1/5/10, MRR@10, nDCG@10 (binary relevance) and latency p50/p95 over all queries."""
    n = len(qrels)
    sums = dict.fromkeys(("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"), 0.0)
    for docs, (_, relevant) in zip(ranked, qrels, strict=True):
        top = list(docs[:10])
        for k in (1, 5, 10):
            sums[f"recall@{k}"] += len(relevant & set(top[:k])) / len(relevant)
        first = next((i for i, d in enumerate(top) if d in relevant), None)
        if first is not None:
            sums["mrr@10"] += 1.0 / (first + 1)
        dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(top) if d in relevant)
        idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
        sums["ndcg@10"] += dcg / idcg
    out: dict[str, float | int] = {k: round(v / n, 4) for k, v in sums.items()}
    lat = np.asarray(latencies_ms, dtype=float)
    out["latency_ms_p50"] = round(float(np.percentile(lat, 50)), 2) if len(lat) else 0.0
    out["latency_ms_p95"] = round(float(np.percentile(lat, 95)), 2) if len(lat) else 0.0
    out["n_queries"] = n
    return out


def import_docs(archive: Any, docs_path: Path, progress: bool = False) -> int:
    """Import a generic JSONL docs file with the archive's importer; returns the documents added."""
    from archive.importers.runner import import_paths

    report = import_paths(archive, [docs_path], progress=progress)
    errors = [f.error for f in report.files if getattr(f, "error", "")]
    if errors:
        raise InvalidInput(f"{docs_path}: {errors[0]}")
    return sum(f.added + f.changed + f.unchanged for f in report.files)


def _progress(enabled: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)

    return say


def run_queries(retriever: Any, qrels: Sequence[tuple[str, set[str]]],
                progress: bool = False) -> tuple[list[list[str]], list[float]]:
    """Document ids ranked for each query (top 10, inactive documents included) and latencies in ms."""
    from tqdm import tqdm

    ranked: list[list[str]] = []
    latencies: list[float] = []
    bar = tqdm(qrels, desc="queries", unit="q", file=sys.stderr, disable=not progress, mininterval=2.0,
               delay=0.5)
    for query, _ in bar:
        start = time.perf_counter()
        hits = retriever.search(query, top_k=10, include_inactive=True)
        latencies.append((time.perf_counter() - start) * 1000.0)
        ranked.append([h.doc_id for h in hits])
    return ranked, latencies


def open_throwaway(settings: Settings, docs_path: Path, home: Path, progress: bool = False,
                   **retriever_kwargs: Any) -> tuple[Any, Any]:
    """An archive holding ``docs_path`` and a warmed-up Retriever over it, both under ``home``."""
    from archive.store import Archive
    from retrieval.config import RetrievalConfig
    from retrieval.service import Retriever

    say = _progress(progress)
    local = settings.with_overrides(home=home)
    local.paths.ensure()
    archive = Archive(local.paths.archive_db)
    start = time.perf_counter()
    count = import_docs(archive, docs_path, progress=progress)
    say(f"imported {count} documents in {time.perf_counter() - start:.1f}s")
    start = time.perf_counter()
    retriever = Retriever(RetrievalConfig.of(local), archive, **retriever_kwargs)
    retriever.warm_up()
    info = retriever.info()
    say(f"indexed {info['passages']} passages in {time.perf_counter() - start:.1f}s "
        f"(dense: {'on' if info['dense'] else 'off'})")
    return archive, retriever


def evaluate_files(settings: Settings, docs_path: Path, qrels_path: Path, progress: bool = False,
                   signals: Sequence[str] = ("hybrid",),
                   **retriever_kwargs: Any) -> dict[str, dict[str, float | int]]:
    """Import and index once in a temporary home (nothing touches ``settings.home``), then run every
    query once per ranking in ``signals`` (``retrieval.ranking.SIGNALS``: hybrid, lexical, dense);
    returns the metrics per ranking."""
    from retrieval.ranking import SIGNALS, FusionParams

    unknown = [s for s in signals if s not in SIGNALS]
    if unknown or not signals:
        raise InvalidInput(f"signals must be some of {', '.join(SIGNALS)} (got {', '.join(unknown)})")
    qrels = load_qrels(qrels_path)
    out: dict[str, dict[str, float | int]] = {}
    with tempfile.TemporaryDirectory(prefix="civic-eval-") as tmp:
        archive, retriever = open_throwaway(settings, docs_path, Path(tmp) / "home", progress,
                                            **retriever_kwargs)
        base = retriever.fusion if isinstance(retriever.fusion, FusionParams) else FusionParams()
        try:
            for name in signals:
                retriever.fusion = replace(base, signals=name)
                ranked, latencies = run_queries(retriever, qrels, progress)
                out[name] = metrics(ranked, qrels, latencies)
        finally:
            archive.close()
    return out


def tune(settings: Settings, docs_path: Path, qrels_path: Path, grid: Mapping[str, Iterable[Any]],
         progress: bool = True) -> list[tuple[dict[str, Any], dict[str, float | int]]]:
    """Grid-search ``LexicalParams`` / ``FusionParams`` fields on a development set.

    ``grid`` maps a field name of either dataclass to the values to try.  Documents are imported once;
    each combination rebuilds the index in the same throwaway home.  Results come back best first by
    MRR@10 + Recall@5.
    """
    from retrieval.lexical import LexicalParams

    qrels = load_qrels(qrels_path)
    lex_fields = set(LexicalParams.__dataclass_fields__)
    results: list[tuple[dict[str, Any], dict[str, float | int]]] = []
    names = list(grid)
    with tempfile.TemporaryDirectory(prefix="civic-tune-") as tmp:
        archive, retriever = open_throwaway(settings, docs_path, Path(tmp) / "home", progress)
        base_lex, base_fusion = retriever.lexical_params, retriever.fusion
        try:
            for values in itertools.product(*(list(grid[n]) for n in names)):
                combo = dict(zip(names, values, strict=True))
                retriever.lexical_params = replace(
                    base_lex, **{k: v for k, v in combo.items() if k in lex_fields})
                retriever.fusion = replace(
                    base_fusion, **{k: v for k, v in combo.items() if k not in lex_fields})
                if any(k in lex_fields for k in combo) or not results:
                    retriever.rebuild()
                ranked, latencies = run_queries(retriever, qrels)
                scores = metrics(ranked, qrels, latencies)
                results.append((combo, scores))
                _progress(progress)(f"{combo} -> R@5 {scores['recall@5']} MRR@10 {scores['mrr@10']}")
        finally:
            archive.close()
    results.sort(key=lambda r: -(float(r[1]["mrr@10"]) + float(r[1]["recall@5"])))
    return results


def _parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        grid[name.strip()] = [float(v) if "." in v else int(v) for v in values.split(",") if v.strip()]
    return grid


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m evaluation.evaluate --docs D --qrels Q [--grid k1=0.6,0.8 expand_alpha=0.5,0.9 ...]``"""
    import argparse

    from core.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m evaluation.evaluate", description=main.__doc__)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--qrels", type=Path, required=True)
    parser.add_argument("--grid", nargs="*", default=[], help="FIELD=v1,v2 for LexicalParams/FusionParams")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="civic-tune-home-") as tmp:
        settings = load_settings(Path(tmp))
        if not args.grid:
            print(json.dumps(evaluate_files(settings, args.docs, args.qrels, progress=True)["hybrid"]))
            return
        for combo, scores in tune(settings, args.docs, args.qrels, _parse_grid(args.grid)):
            print(json.dumps({**combo, **{k: scores[k] for k in KEYS[:5]}}))


if __name__ == "__main__":
    main()
