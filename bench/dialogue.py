"""``make bench-dialogue``: a full turn through ``/api/chat`` against a bare Rasa REST turn, written to
bench/DIALOGUE.md.

One real stack (``civic serve``, started the way the engine tests start it) on a copy of a trained home.
Two kinds of turn, measured in the same run, interleaved phase by phase so both see the same machine load:

- **bare**: ``POST <engine>/webhooks/rest/webhook`` with a greeting, answered by the rule
  ``greet -> utter_greet`` (the engine still calls the app's ``/webhook`` once for the ``language`` slot's
  custom mapping, as every turn of this project does);
- **full**: ``POST <app>/api/chat`` with a guide question answered by ``action_answer_guide`` through
  retrieval (the reply must carry a citation, so the measured path is the real one).

Phases: single client (p50/p95), throughput with 10 and 50 concurrent sessions (each session a distinct
sender sending a fixed number of turns), and one 50-turn conversation per kind (median latency of turns 1-5
against 46-50).  CPU time of the engine and the app process is recorded per phase.

This module generates the load and runs the stack; what is sent and the targets are in
``bench/dialogue_workload.py``, the statistics and the report in ``bench/dialogue_report.py``.

    .venv/bin/python -m bench.dialogue                         # trains a scratch home once, then measures
    .venv/bin/python -m bench.dialogue --home /tmp/x/home      # reuse a trained home (copied, not changed)
    .venv/bin/python -m bench.dialogue --out /tmp/quick.md --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.dialogue_report import growth, percentile, render, summarise
from bench.dialogue_workload import GREETING, GUIDE_QUESTION, Options, Phase, conversation_texts
from bench.machine import describe, git
from bench.report import write_report
from core.settings import REPO_ROOT, load_settings


# -- the two kinds of turn -----------------------------------------------------------------------------
@dataclass
class Kind:
    name: str
    url: str
    body: Callable[[str, str], dict[str, Any]]  # (sender, text) -> JSON body
    text: str
    check: Callable[[Any], str]  # "" when the reply is what this kind must get, else what is wrong


def check_bare(reply: Any) -> str:
    if not isinstance(reply, list) or not reply or not any(m.get("text") for m in reply):
        return f"no bot text in the REST channel's reply: {str(reply)[:200]}"
    return ""


def check_full(reply: Any) -> str:
    messages = reply.get("messages") if isinstance(reply, dict) else None
    if not messages or not messages[0].get("citations") or not messages[0].get("card"):
        return f"no cited guide card from /api/chat: {json.dumps(reply, ensure_ascii=False)[:300]}"
    if (reply.get("intent") or {}).get("name") != "ask_guide":
        return f"not answered as ask_guide: {reply.get('intent')}"
    return ""


def kinds(app_url: str, engine_url: str) -> dict[str, Kind]:
    return {
        "bare": Kind("bare", engine_url.rstrip("/") + "/webhooks/rest/webhook",
                     lambda s, t: {"sender": s, "message": t}, GREETING, check_bare),
        "full": Kind("full", app_url.rstrip("/") + "/api/chat",
                     lambda s, t: {"session": s, "text": t}, GUIDE_QUESTION, check_full),
    }


class Failed(RuntimeError):
    pass


async def turn(http: aiohttp.ClientSession, kind: Kind, sender: str, text: str, check: bool = False) -> float:
    """One turn; its latency in ms.  Any error status (or, with ``check``, a wrong reply) raises Failed."""
    start = time.perf_counter()
    async with http.post(kind.url, json=kind.body(sender, text)) as resp:
        body = await resp.read()
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status != 200:
            raise Failed(f"{kind.name} turn answered {resp.status}: {body[:300]!r}")
    if check:
        problem = kind.check(json.loads(body))
        if problem:
            raise Failed(f"{kind.name}: {problem}")
    return elapsed


def sender_id(tag: str) -> str:
    return f"bench-{tag}-{uuid.uuid4().hex[:10]}"


# -- CPU time of the stack's processes -----------------------------------------------------------------
class CpuMeter:
    """User+system CPU seconds of the engine (rasa) and the app worker since the last ``take``."""

    def __init__(self, processes: dict[str, list[psutil.Process]]) -> None:
        self.processes = processes
        self.last = self._now()

    def _now(self) -> dict[str, float]:
        out = {}
        for name, procs in self.processes.items():
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    continue
            out[name] = total
        return out

    def take(self) -> dict[str, float]:
        now = self._now()
        delta = {k: now[k] - self.last.get(k, 0.0) for k in now}
        self.last = now
        return delta


def stack_processes(root_pid: int) -> dict[str, list[psutil.Process]]:
    """The engine's and the app's process trees under a `civic serve` supervisor."""
    found: dict[str, list[psutil.Process]] = {"engine": [], "app": []}
    for child in psutil.Process(root_pid).children(recursive=False):
        cmd = " ".join(child.cmdline())
        name = "app" if "app-worker" in cmd else "engine" if "rasa" in cmd else None
        if name:
            found[name] += [child, *child.children(recursive=True)]
    return found


# -- phases ----------------------------------------------------------------------------------------------
async def single(http: aiohttp.ClientSession, kind: Kind, turns: int, per_session: int) -> Phase:
    lat: list[float] = []
    start = time.perf_counter()
    sender = ""
    for i in range(turns):
        if i % per_session == 0:
            sender = sender_id(f"{kind.name}-s")
        lat.append(await turn(http, kind, sender, kind.text))
    return Phase(kind.name, "single", turns, time.perf_counter() - start, lat)


async def concurrent(http: aiohttp.ClientSession, kind: Kind, sessions: int, per_session: int) -> Phase:
    async def one() -> list[float]:
        sender = sender_id(f"{kind.name}-c{sessions}")
        return [await turn(http, kind, sender, kind.text) for _ in range(per_session)]

    start = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(sessions)))
    wall = time.perf_counter() - start
    return Phase(kind.name, f"c{sessions}", sessions * per_session, wall, [x for r in results for x in r])


async def conversation(http: aiohttp.ClientSession, kind: Kind, turns: int, meter: CpuMeter) -> Phase:
    """One sender, ``turns`` turns back to back; also the engine + app CPU time of each turn (one client,
    so the stack's CPU between two readings is that turn's; /proc's 10 ms ticks average out over turns)."""
    sender = sender_id(f"{kind.name}-conv")
    lat: list[float] = []
    cpu: list[float] = []
    total: dict[str, float] = {}
    start = time.perf_counter()
    meter.take()
    for text in conversation_texts(kind.name, turns):
        lat.append(await turn(http, kind, sender, text))
        used = meter.take()
        cpu.append(1000 * sum(used.values()))
        for k, v in used.items():
            total[k] = total.get(k, 0.0) + v
    return Phase(kind.name, "conversation", turns, time.perf_counter() - start, lat, total, cpu)


async def tracker_events(http: aiohttp.ClientSession, engine_url: str, token: str, sender: str
                         ) -> list[int]:
    """[events, engine sessions] the conversation left in the tracker store (every session's events)."""
    url = f"{engine_url.rstrip('/')}/conversations/{sender}/tracker"
    async with http.get(url, params={"token": token, "include_events": "ALL"}) as resp:
        data = await resp.json(content_type=None)
    events = data.get("events") or []
    return [len(events), sum(1 for e in events if e.get("event") == "session_started")]


async def measure(app_url: str, engine_url: str, token: str, meter: CpuMeter, opts: Options,
                  log: Callable[[str], None]) -> dict[str, Any]:
    ks = kinds(app_url, engine_url)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    phases: list[Phase] = []
    events: dict[str, list[list[int]]] = {"bare": [], "full": []}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        for kind in ks.values():  # warm up, and prove each kind takes the path it is meant to
            await turn(http, kind, sender_id(f"{kind.name}-check"), kind.text, check=True)
            for _ in range(opts.warmup):
                await turn(http, kind, sender_id(f"{kind.name}-warm"), kind.text)
            await asyncio.gather(*(turn(http, kind, sender_id("warm"), kind.text) for _ in range(10)))

        def record(phase: Phase) -> None:
            phase.cpu = meter.take()
            phases.append(phase)
            p50, p95 = percentile(phase.latencies, 50), percentile(phase.latencies, 95)
            log(f"  {phase.kind:4} {phase.phase:12} {phase.turns_per_s:7.1f} turns/s  "
                f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")

        for r in range(opts.rounds):
            log(f"round {r + 1}/{opts.rounds}")
            # alternate which kind goes first, so neither always meets the same moment of machine load
            order = ["bare", "full"] if r % 2 == 0 else ["full", "bare"]
            for name in order:
                meter.take()
                record(await single(http, ks[name], opts.single_turns, opts.per_session))
            for c in opts.concurrency:
                for name in order:
                    meter.take()
                    record(await concurrent(http, ks[name], c, opts.per_session))
        log("long conversations")
        for i in range(opts.conversations):
            for name in (["bare", "full"] if i % 2 == 0 else ["full", "bare"]):
                phase = await conversation(http, ks[name], opts.conversation_turns, meter)
                phases.append(phase)
                log(f"  {name:4} conversation  turns 1-5 / 46-50 median ms: "
                    + " / ".join(f"{x:.0f}" for x in growth(phase.latencies)[:2])
                    + "; CPU ms " + " / ".join(f"{x:.0f}" for x in growth(phase.turn_cpu_ms)[:2]))
        for name in ("bare", "full"):  # tracker size after one conversation of each kind
            sender = sender_id(f"{name}-events")
            for text in conversation_texts(name, opts.conversation_turns):
                await turn(http, ks[name], sender, text)
            events[name].append(await tracker_events(http, engine_url, token, sender))
    return {"phases": [p.to_json() for p in phases], "events_after_conversation": events}


# -- the stack -----------------------------------------------------------------------------------------
def trained_home(work: Path, log: Callable[[str], None]) -> Path:
    """A trained home under ``work`` (seeded, indexed, model trained), built once and reused after.

    The Rasa project is snapshotted afresh each time, so the model is retrained only when the project's
    training data changed since the last bench, and never half-way through by someone's edit."""
    import shutil

    from bench.stack import snapshot_project
    from civic.train import prepare_and_train

    base = work / "trained"
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    if (base / "project").exists():
        shutil.rmtree(base / "project")
    project = snapshot_project(REPO_ROOT, base / "project")
    if not (home / "civic.toml").exists():
        (home / "civic.toml").write_text(f'project_dir = "{project}"\n', encoding="utf-8")
    os.environ.setdefault("RASA_CACHE_DIRECTORY", str(REPO_ROOT / ".rasa" / "cache"))
    log(f"preparing the trained home {home} (trains only when needed)")
    prepare_and_train(load_settings(home), demo=True, echo=log)
    return home


def machine() -> dict[str, Any]:
    info = describe()
    dirty = bool(git("status", "--porcelain", "--", "app", "bot", "bench", "civic", "retrieval",
                     "config.yml", "endpoints.yml", "domain", "data"))
    info["load_start"] = info.pop("load_avg_start")  # the name this bench's report reads
    return {**info, "dirty": dirty}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dialogue", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a trained home to copy (default: train one under --work)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/civic-bench-dialogue"))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "DIALOGUE.md")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--rounds", type=int, default=Options.rounds)
    parser.add_argument("--single-turns", type=int, default=Options.single_turns)
    parser.add_argument("--per-session", type=int, default=Options.per_session)
    parser.add_argument("--concurrency", default="10,50")
    parser.add_argument("--conversations", type=int, default=Options.conversations)
    args = parser.parse_args(argv)
    opts = Options(single_turns=args.single_turns, per_session=args.per_session,
                   concurrency=tuple(int(x) for x in args.concurrency.split(",") if x),
                   conversations=args.conversations, rounds=args.rounds)

    def log(msg: str) -> None:
        print(f"[bench-dialogue] {msg}", file=sys.stderr, flush=True)

    from bench.stack import copy_home, start_stack

    meta = machine()
    meta["command"] = "python -m bench.dialogue " + " ".join(argv if argv is not None else sys.argv[1:])
    source = args.home or trained_home(args.work, log)
    run_dir = args.work / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    home = copy_home(source, run_dir / "home")
    log(f"starting civic serve on a copy of {source} ...")
    stack = start_stack(home, run_dir)
    try:
        settings = load_settings(home)
        engine_url = f"http://127.0.0.1:{stack.engine_port}"
        meter = CpuMeter(stack_processes(stack.proc.pid))
        log(f"ready in {stack.started_s:.0f} s: app {stack.url}, engine {engine_url}; load {os.getloadavg()}")
        result = asyncio.run(measure(stack.url, engine_url, settings.engine_token, meter, opts, log))
    finally:
        left = stack.stop()
        if left:
            log(f"processes left behind (killed): {left}")
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    result["meta"] = meta
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    summary = summarise(result)
    write_report(args.out, render(meta, summary, opts))
    log(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
