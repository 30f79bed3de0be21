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

    .venv/bin/python -m bench.dialogue                         # trains a scratch home once, then measures
    .venv/bin/python -m bench.dialogue --home /tmp/x/home      # reuse a trained home (copied, not changed)
    .venv/bin/python -m bench.dialogue --out /tmp/quick.md --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.machine import describe, git
from civic.config import REPO_ROOT, load_settings

# throughput target of the issue: the full turn keeps this share of bare Rasa's turns/s
THROUGHPUT_TARGET = 0.70
# long conversation: the last turns may be at most this many times slower than the first
GROWTH_TARGET = 1.5
NOTES_MARK = "<!-- notes: kept when the bench rewrites this file -->"

GREETING = "你好"
# answered by action_answer_guide with a card: NLU tags 「出国」 as the item, which names no service, so the
# guide (普通护照申领) is found through retrieval
GUIDE_QUESTION = "出国旅游要办什么证件"
# the 50-turn conversation: this five-turn block repeated, so turns 1-5 and 46-50 ask the same kinds of thing
FULL_BLOCK = (
    "{question}",
    "那要多少钱？",
    "在哪里办",
    "谢谢",
    "你好",
)
CONVERSATION_QUESTIONS = (
    GUIDE_QUESTION,
    "结婚登记要带什么材料",
    "刚生完孩子去哪里报户口",
    "居住证怎么办理",
    "想提取公积金租房用，需要什么",
)
# bare Rasa's long conversation: rule responses only
BARE_BLOCK = ("你好", "谢谢", "你好呀", "谢谢啊", "早")


# -- statistics ----------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def trimmed_mean(values: Sequence[float], cut: float = 0.2) -> float:
    """Mean of the values without the lowest and highest ``cut`` share of them."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = int(len(ordered) * cut)
    return statistics.mean(ordered[k:len(ordered) - k] or ordered)


def growth(latencies: Sequence[float], head: int = 5) -> tuple[float, float, float]:
    """(median of the first ``head`` turns, median of the last ``head``, last / first)."""
    if len(latencies) < 2 * head:
        raise ValueError(f"need at least {2 * head} turns, got {len(latencies)}")
    first = statistics.median(latencies[:head])
    last = statistics.median(latencies[-head:])
    return first, last, last / first if first > 0 else math.inf


def worst_window(latencies: Sequence[float], head: int = 5) -> float:
    """The slowest median of ``head`` consecutive turns anywhere in the conversation: where compaction
    makes the cost a sawtooth, the last turns alone could sit in a trough."""
    return max(statistics.median(latencies[i:i + head]) for i in range(len(latencies) - head + 1))


def per_position_median(runs: Sequence[Sequence[float]]) -> list[float]:
    """Turn i's latency as the median over several conversations (smooths a shared machine's noise)."""
    n = min(len(r) for r in runs)
    return [statistics.median(r[i] for r in runs) for i in range(n)]


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


# -- phases --------------------------------------------------------------------------------------------
@dataclass
class Phase:
    kind: str
    phase: str  # "single", "c10", "c50", "conversation"
    turns: int
    wall_s: float
    latencies: list[float]
    cpu: dict[str, float] = field(default_factory=dict)
    turn_cpu_ms: list[float] = field(default_factory=list)  # per turn, engine + app (conversations only)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.wall_s if self.wall_s > 0 else math.nan

    def cpu_ms_per_turn(self, name: str) -> float:
        return 1000 * self.cpu.get(name, math.nan) / self.turns if self.turns else math.nan

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "phase": self.phase, "turns": self.turns, "wall_s": round(self.wall_s, 3),
                "latencies_ms": [round(x, 2) for x in self.latencies],
                "cpu_s": {k: round(v, 3) for k, v in self.cpu.items()},
                "turn_cpu_ms": [round(x, 1) for x in self.turn_cpu_ms]}


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


def conversation_texts(kind: str, turns: int) -> list[str]:
    out: list[str] = []
    block = 0
    while len(out) < turns:
        if kind == "bare":
            out += BARE_BLOCK
        else:
            question = CONVERSATION_QUESTIONS[block % len(CONVERSATION_QUESTIONS)]
            out += [t.format(question=question) for t in FULL_BLOCK]
        block += 1
    return out[:turns]


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


@dataclass
class Options:
    single_turns: int = 60
    per_session: int = 5
    concurrency: tuple[int, ...] = (10, 50)
    conversation_turns: int = 50
    conversations: int = 3
    rounds: int = 2
    warmup: int = 10


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


# -- summary and report --------------------------------------------------------------------------------
def _phases(result: dict[str, Any], kind: str, phase: str) -> list[Phase]:
    return [Phase(p["kind"], p["phase"], p["turns"], p["wall_s"], p["latencies_ms"], p.get("cpu_s", {}),
                  p.get("turn_cpu_ms", []))
            for p in result["phases"] if p["kind"] == kind and p["phase"] == phase]


def is_concurrent(phase: str) -> bool:
    return phase[:1] == "c" and phase[1:].isdigit()


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Numbers per kind and phase: latencies pooled over the rounds, throughput as the rounds' median."""
    out: dict[str, Any] = {}
    for kind in ("bare", "full"):
        rows: dict[str, Any] = {}
        concurrent_phases = {p["phase"] for p in result["phases"] if is_concurrent(p["phase"])}
        for phase in ("single", *sorted(concurrent_phases, key=lambda x: int(x[1:]))):
            found = _phases(result, kind, phase)
            if not found:
                continue
            lat = [x for p in found for x in p.latencies]
            rows[phase] = {
                "p50": percentile(lat, 50), "p95": percentile(lat, 95),
                "turns_per_s": statistics.median(p.turns_per_s for p in found),
                "turns_per_s_all": [p.turns_per_s for p in found],
                "cpu_ms": {n: statistics.median(p.cpu_ms_per_turn(n) for p in found)
                           for n in ("engine", "app")},
                "turns": sum(p.turns for p in found),
            }
        convs = _phases(result, kind, "conversation")
        if convs:
            curve = per_position_median([p.latencies for p in convs])
            first, last, ratio = growth(curve)
            cpu_first, cpu_last, cpu_ratio = math.nan, math.nan, math.nan
            if all(len(p.turn_cpu_ms) == len(p.latencies) for p in convs):
                # CPU of turns 1-5 (46-50) pooled over the runs (one run's 10 ms ticks are too coarse),
                # without the outer fifths (a turn that also paid for a SQLite checkpoint or a GC)
                cpu_first = trimmed_mean([x for p in convs for x in p.turn_cpu_ms[:5]])
                cpu_last = trimmed_mean([x for p in convs for x in p.turn_cpu_ms[-5:]])
                cpu_ratio = cpu_last / cpu_first if cpu_first > 0 else math.inf
            rows["conversation"] = {
                "first": first, "last": last, "ratio": ratio, "runs": len(convs), "turns": len(curve),
                "worst": worst_window(curve),
                "cpu_first": cpu_first, "cpu_last": cpu_last, "cpu_ratio": cpu_ratio,
                "ratios_each": [growth(p.latencies)[2] for p in convs],
                "events": result.get("events_after_conversation", {}).get(kind, []),
            }
        out[kind] = rows
    shares, cpu_shares = {}, {}
    for phase, row in out.get("full", {}).items():
        bare = out.get("bare", {}).get(phase)
        if is_concurrent(phase) and bare:
            shares[phase] = row["turns_per_s"] / bare["turns_per_s"]
        if phase != "conversation" and bare:
            # the share a CPU-bound stack would keep: bare CPU per turn over full CPU per turn
            cpu_shares[phase] = sum(bare["cpu_ms"].values()) / sum(row["cpu_ms"].values())
    out["share"] = shares
    out["cpu_share"] = cpu_shares
    return out


def _f(x: float, nd: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def render(meta: dict[str, Any], summary: dict[str, Any], opts: Options) -> str:
    bare, full, share = summary["bare"], summary["full"], summary["share"]
    conc = [p for p in full if is_concurrent(p)]
    lines = [
        "# Dialogue benchmark",
        "",
        f"Measured {meta['date']} on {meta['nproc']} cores ({meta['cpu']}), {meta['ram_gb']} GiB RAM; "
        f"Python {meta['python']}, commit {meta['commit']}"
        + (" (with uncommitted changes)." if meta["dirty"] else "."),
        f"Load average (1/5/15 min) at start {meta['load_start']}, at end {meta['load_end']}: the machine is "
        "shared with other engineers' Rasa training and test runs, so wall-clock numbers include waiting for "
        "a core; both kinds of turn were measured in the same run, interleaved phase by phase, and the CPU "
        "time per turn (engine and app process) is what a turn costs on an idle core.",
        "",
        f"Command: `{meta['command']}` (`make bench-dialogue`, also run by `make bench`).",
        "",
        "- **bare**: `POST /webhooks/rest/webhook` on the engine with 「" + GREETING + "」, the rule "
        "`greet -> utter_greet` (the engine still calls the app's `/webhook` once per turn for the "
        "`language` slot's custom mapping `action_detect_language`, as every turn in this project does).",
        "- **full**: `POST /api/chat` on the app with 「" + GUIDE_QUESTION + "」: app -> Rasa REST channel "
        "-> `action_answer_guide` in the app's `/webhook` -> retrieval (the tagged item 「出国」 names no "
        "service) -> reply with the guide's card and a citation (checked before measuring).",
        f"- Single client: {opts.single_turns} turns per round, a new sender every {opts.per_session} turns. "
        f"Concurrent: N sessions (distinct senders) each sending {opts.per_session} turns back to back, all "
        f"started at once; turns/s = all turns / wall time. {opts.rounds} rounds; latencies pooled over the "
        "rounds, turns/s is the median round (each round listed). Warm-up before measuring.",
        "",
        "## Turn latency and throughput",
        "",
        "| phase | bare p50 / p95 ms | full p50 / p95 ms | bare turns/s | full turns/s | full / bare "
        "| CPU ms per turn bare (engine + app) | CPU ms per turn full (engine + app) | full / bare by CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in ["single", *conc]:
        b, f = bare.get(phase), full.get(phase)
        if not b or not f:
            continue
        ratio = f["turns_per_s"] / b["turns_per_s"]
        label = "single client" if phase == "single" else f"{phase[1:]} concurrent sessions"
        each_b = ", ".join(_f(x) for x in b["turns_per_s_all"])
        each_f = ", ".join(_f(x) for x in f["turns_per_s_all"])
        lines.append(
            f"| {label} | {_f(b['p50'])} / {_f(b['p95'])} | {_f(f['p50'])} / {_f(f['p95'])} "
            f"| {_f(b['turns_per_s'])} ({each_b}) | {_f(f['turns_per_s'])} ({each_f}) | **{ratio:.0%}** "
            f"| {_f(b['cpu_ms']['engine'])} + {_f(b['cpu_ms']['app'])} "
            f"| {_f(f['cpu_ms']['engine'])} + {_f(f['cpu_ms']['app'])} "
            f"| {summary['cpu_share'].get(phase, math.nan):.0%} |"
        )
    lines.append("")
    if share:
        worst = min(share.values())
        verdict = "met" if worst >= THROUGHPUT_TARGET else "**not met**"
        by_cpu = [v for k, v in summary["cpu_share"].items() if is_concurrent(k)]
        lines.append(f"Target: the full turn keeps >= {THROUGHPUT_TARGET:.0%} of bare Rasa's throughput at "
                     f"every concurrency: {verdict} (lowest {worst:.0%}; by CPU time per turn, which does "
                     f"not depend on what else the machine runs, {min(by_cpu or [math.nan]):.0%}).")
        lines.append("")
    lines += [
        "## Long conversation",
        "",
        "One sender, " + str(opts.conversation_turns) + " turns back to back, run "
        + str(opts.conversations) + " times per kind; turn i's latency is the median over the runs. "
        "full: blocks of 「<guide question>」「那要多少钱？」「在哪里办」「谢谢」「你好」 (five different "
        "services); bare: rule-only turns 「" + "」「".join(BARE_BLOCK) + "」 repeated.",
        "",
        "full turns go through the app, which compacts the engine session between turns once it holds "
        "`max_session_events` events (bot/session.py); bare turns go straight to the engine, whose session "
        "grows for the whole conversation (Rasa's own cost per event, for comparison).",
        "",
        "| kind | turns 1-5 median ms | turns 46-50 median ms | last / first | each run | CPU ms per turn "
        "1-5 / 46-50 (engine + app, trimmed mean) | CPU last / first | slowest 5 turns in a row, median ms "
        "(/ first) | tracker events after the conversation (engine sessions) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, rows in (("bare", bare), ("full", full)):
        c = rows.get("conversation")
        if not c:
            continue
        each = ", ".join(f"{x:.2f}" for x in c["ratios_each"])
        ev = ", ".join(f"{x[0]} ({x[1]})" if isinstance(x, list) else str(x) for x in c["events"]) or "—"
        worst = f"{_f(c['worst'])} ({c['worst'] / c['first']:.2f})" if "worst" in c and c["first"] else "—"
        lines.append(f"| {name} | {_f(c['first'])} | {_f(c['last'])} | **{c['ratio']:.2f}** | {each} "
                     f"| {_f(c['cpu_first'])} / {_f(c['cpu_last'])} | {_f(c['cpu_ratio'], 2)} "
                     f"| {worst} | {ev} |")
        if name == "full":
            verdicts.append(c["ratio"] <= GROWTH_TARGET)
    lines.append("")
    if verdicts:
        lines.append(f"Target: the last full turns no slower than {GROWTH_TARGET}x the first: "
                     + ("met" if all(verdicts) else "**not met**") + ".")
        lines.append("")
    return "\n".join(lines)


def write_report(path: Path, text: str) -> None:
    """Write the measured part; whatever follows the notes marker in the existing file is kept."""
    notes = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if NOTES_MARK in old:
            notes = old[old.index(NOTES_MARK):]
    path.write_text(text.rstrip() + "\n\n" + (notes or NOTES_MARK + "\n"), encoding="utf-8")


# -- the stack -----------------------------------------------------------------------------------------
def trained_home(work: Path, log: Callable[[str], None]) -> Path:
    """A trained home under ``work`` (seeded, indexed, model trained), built once and reused after.

    The Rasa project is snapshotted afresh each time, so the model is retrained only when the project's
    training data changed since the last bench, and never half-way through by someone's edit."""
    import shutil

    from civic.serve import prepare_home
    from tests.engine_fixtures import snapshot_project

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
    prepare_home(load_settings(home), demo=True, echo=log)
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

    from tests.engine_fixtures import copy_home, start_stack

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
