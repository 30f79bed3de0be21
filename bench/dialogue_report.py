"""The dialogue bench's numbers and its report: statistics over the measured phases, the summary per kind
and phase, and bench/DIALOGUE.md (whatever follows the notes marker in the file is kept)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from bench.dialogue_workload import (
    BARE_BLOCK,
    GREETING,
    GROWTH_TARGET,
    GUIDE_QUESTION,
    THROUGHPUT_TARGET,
    Options,
    Phase,
)


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
        "`greet -> utter_greet`: NLU, two policy predictions and the tracker store, no action call.",
        "- **full**: `POST /api/chat` on the app with 「" + GUIDE_QUESTION + "」: app -> the engine's "
        "`civic` channel -> `action_answer_guide` in the app's `/webhook` -> retrieval (the tagged item "
        "「出国」 names no service) -> reply with the guide's card and a citation (checked before "
        "measuring).",
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
