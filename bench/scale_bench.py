"""Throughput of one versus two engine and app replicas (docs/scaling.md): `make bench-scale`.

For each replica count it starts the scaled-out stack of bench/cluster.py on a fresh copy of a trained home
(PostgreSQL tracker store, Redis lock store, nginx in front, so only the replica count differs), warms it
up, then ``--clients`` simulated citizens talk through nginx for ``--seconds``: each runs conversations of
four turns (a guide question, fees and place as follow-ups, the materials), one turn after the other.
Reported per configuration: turns answered per second, p50/p95/p99 latency, errors, and turns not answered
by the dialogue.  Prints a Markdown table (and writes it to ``--out`` when given).

    .venv/bin/python bench/scale_bench.py --home /tmp/th13/home --clients 8 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import start_cluster
from bench.stack import copy_home

TURNS = ["孩子刚出生上户口要带啥", "那要多少钱？", "在哪里办", "要带什么材料"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(url: str, clients: int, seconds: float, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    errors = not_dialogue = 0
    stop_at = time.monotonic() + seconds

    async def citizen(n: int, http: aiohttp.ClientSession) -> None:
        nonlocal errors, not_dialogue
        conversation = 0
        while time.monotonic() < stop_at:
            session = f"{tag}-{n}-{conversation}"
            conversation += 1
            for text in TURNS:
                if time.monotonic() >= stop_at:
                    return
                started = time.monotonic()
                try:
                    async with http.post(url + "api/chat", json={"session": session, "text": text}) as resp:
                        body = await resp.json(content_type=None)
                        ok = resp.status == 200
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    ok, body = False, {}
                if not ok:
                    errors += 1
                    continue
                latencies.append(time.monotonic() - started)
                if body.get("mode") != "dialogue" or not body.get("messages"):
                    not_dialogue += 1

    began = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(citizen(n, http) for n in range(clients)))
    elapsed = time.monotonic() - began
    return {
        "turns": len(latencies), "seconds": elapsed, "turns_per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
        "errors": errors, "not_dialogue": not_dialogue,
    }


def run(home: Path, replicas: int, clients: int, seconds: float, warmup: float) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix=f"scale-bench-{replicas}-"))
    print(f"== {replicas} engine + {replicas} app replicas: starting ...", flush=True)
    started = time.monotonic()
    cluster = start_cluster(copy_home(home, base / "home"), base, engines=replicas, apps=replicas)
    print(f"   up in {time.monotonic() - started:.0f} s; warm-up {warmup:.0f} s", flush=True)
    try:
        asyncio.run(drive(cluster.url, clients, warmup, f"warm{replicas}"))
        load = os.getloadavg()[0]  # the machine is shared: the 1-minute load when the run starts
        result = asyncio.run(drive(cluster.url, clients, seconds, f"bench{replicas}"))
        result["load_before"], result["load_after"] = load, os.getloadavg()[0]
    finally:
        left = cluster.stop()
        if left:
            print(f"   processes left behind (killed): {left}", flush=True)
        shutil.rmtree(base, ignore_errors=True)  # the home copy and the servers' files
    print(f"   {result}", flush=True)
    return {"replicas": replicas, **result}


def table(rows: list[dict[str, Any]], clients: int, seconds: float) -> str:
    lines = [f"{clients} concurrent clients through nginx for {seconds:.0f} s per configuration; "
             f"{platform.node()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
             f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| engines + apps | turns | turns/s | p50 s | p95 s | p99 s | errors | not dialogue "
             "| load (1 min) "
             "before → after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['replicas']} + {r['replicas']} | {r['turns']} | {r['turns_per_s']:.1f} | "
                     f"{r['p50']:.3f} | {r['p95']:.3f} | {r['p99']:.3f} | {r['errors']} | "
                     f"{r['not_dialogue']} | {r['load_before']:.1f} → {r['load_after']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    kept = Path(os.environ.get("CIVIC_TEST_TRAINED_HOME", "/tmp/th13"))
    parser.add_argument("--home", type=Path, default=kept / "home",
                        help="a trained home (copied; default $CIVIC_TEST_TRAINED_HOME/home)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare (default 1,2)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    if not (args.home / "models").is_dir():
        sys.exit(f"{args.home} is not a trained home (run the engine tests or `civic train` first)")
    counts = [int(n) for n in args.replicas.split(",")]
    rows = [run(args.home, n, args.clients, args.seconds, args.warmup) for n in counts]
    report = table(rows, args.clients, args.seconds)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
