"""The dialogue bench's own logic (statistics, summary, report), on made-up measurements: nothing timed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.dialogue import check_bare, check_full
from bench.dialogue_report import (
    growth,
    per_position_median,
    percentile,
    render,
    summarise,
    trimmed_mean,
    worst_window,
)
from bench.dialogue_workload import Options, conversation_texts
from bench.report import NOTES_MARK, write_report


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 5.0
    assert percentile(values, 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


def test_growth_compares_the_median_of_the_first_and_last_turns() -> None:
    latencies = [10.0, 12.0, 11.0, 50.0, 9.0] + [30.0] * 40 + [20.0, 22.0, 21.0, 90.0, 19.0]
    assert growth(latencies) == (11.0, 21.0, pytest.approx(21 / 11))
    with pytest.raises(ValueError):
        growth([1.0] * 9)


def test_trimmed_mean_drops_the_outer_fifths() -> None:
    assert trimmed_mean([10.0, 10.0, 20.0, 10.0, 500.0]) == pytest.approx(40 / 3)
    assert trimmed_mean([3.0]) == 3.0
    assert math.isnan(trimmed_mean([]))


def test_worst_window_finds_a_slow_stretch_the_last_turns_miss() -> None:
    sawtooth = [10.0] * 5 + [20.0] * 5 + [10.0] * 40  # slow in the middle, fast again at the end
    assert growth(sawtooth)[2] == pytest.approx(1.0)
    assert worst_window(sawtooth) == pytest.approx(20.0)


def test_growth_verdict_is_the_full_turn_s_bare_rasa_only_compares(tmp_path: Path) -> None:
    result = _result()
    for phase in result["phases"]:  # type: ignore[attr-defined]
        if phase["phase"] == "conversation":
            phase["latencies_ms"] = [10.0] * 50 if phase["kind"] == "full" else [10.0] * 45 + [30.0] * 5
    meta = {"date": "d", "nproc": 2, "cpu": "c", "ram_gb": 1, "python": "3.11", "commit": "abc",
            "dirty": False, "load_start": [1, 1, 1], "load_end": [2, 2, 2], "command": "x"}
    text = render(meta, summarise(result), Options())
    assert "| bare | 10.0 | 30.0 | **3.00** |" in text
    assert "the last full turns no slower than 1.5x the first: met." in text


def test_per_position_median_takes_each_turn_over_the_runs() -> None:
    assert per_position_median([[1, 10, 3], [2, 20, 1], [3, 30, 2, 99]]) == [2, 20, 2]


def test_conversation_texts_repeat_a_block_so_first_and_last_turns_ask_alike() -> None:
    full = conversation_texts("full", 50)
    assert len(full) == 50
    assert full[1:5] == full[46:50]  # same follow-ups; the guide question differs per block
    assert len({full[i] for i in range(0, 50, 5)}) > 1
    assert conversation_texts("bare", 50)[:5] == conversation_texts("bare", 50)[45:]


def test_checks_reject_replies_that_did_not_take_the_measured_path() -> None:
    assert check_bare([{"recipient_id": "x", "text": "您好"}]) == ""
    assert check_bare([]) != ""
    card = {"title": "普通护照申领"}
    cited = {"messages": [{"text": "…", "card": card, "citations": [{"id": "SF-G-003"}]}],
             "intent": {"name": "ask_guide"}}
    assert check_full(cited) == ""
    assert check_full({"messages": [{"text": "…", "card": card, "citations": []}],
                       "intent": {"name": "ask_guide"}}) != ""
    options = {"messages": [{"text": "…", "card": None, "citations": [{"id": "a"}, {"id": "b"}]}],
               "intent": {"name": "ask_guide"}}
    assert check_full(options) != ""  # several guides offered: not the answer path being measured
    assert check_full({**cited, "intent": {"name": "greet"}}) != ""


def _phase(kind: str, phase: str, turns: int, wall: float, lat: list[float]) -> dict[str, object]:
    return {"kind": kind, "phase": phase, "turns": turns, "wall_s": wall, "latencies_ms": lat,
            "cpu_s": {"engine": turns * 0.01, "app": turns * 0.002},
            "turn_cpu_ms": [x / 2 for x in lat] if phase == "conversation" else []}


def _result() -> dict[str, object]:
    phases = []
    for kind, slow in (("bare", 1.0), ("full", 1.5)):
        phases.append(_phase(kind, "single", 10, 1.0 * slow, [10.0 * slow] * 10))
        phases.append(_phase(kind, "c10", 50, 0.5 * slow, [40.0 * slow] * 50))
        phases.append(_phase(kind, "c10", 50, 1.0 * slow, [60.0 * slow] * 50))  # a second, slower round
        phases.append(_phase(kind, "conversation", 50, 5.0, [10.0] * 45 + [12.0 * slow] * 5))
    return {"phases": phases, "events_after_conversation": {"bare": [300], "full": [700]}}


def test_summary_takes_the_median_round_and_the_full_share_of_bare_throughput() -> None:
    summary = summarise(_result())
    assert summary["bare"]["c10"]["turns_per_s"] == pytest.approx(75.0)  # median of 100 and 50
    assert summary["full"]["c10"]["turns_per_s"] == pytest.approx(50.0)
    assert summary["share"]["c10"] == pytest.approx(2 / 3)
    assert summary["cpu_share"]["c10"] == pytest.approx(1.0)  # the made-up CPU is per turn, the same
    assert summary["bare"]["single"]["cpu_ms"]["engine"] == pytest.approx(10.0)
    assert summary["full"]["conversation"]["ratio"] == pytest.approx(1.8)
    assert summary["full"]["conversation"]["cpu_first"] == pytest.approx(5.0)
    assert summary["full"]["conversation"]["cpu_ratio"] == pytest.approx(1.8)
    assert summary["bare"]["conversation"]["events"] == [300]


def test_report_states_both_targets_and_keeps_the_notes(tmp_path: Path) -> None:
    meta = {"date": "d", "nproc": 2, "cpu": "c", "ram_gb": 1, "python": "3.11", "commit": "abc",
            "dirty": False, "load_start": [1, 1, 1], "load_end": [2, 2, 2],
            "command": "python -m bench.dialogue"}
    text = render(meta, summarise(_result()), Options())
    assert "`python -m bench.dialogue`" in text
    assert "throughput at every concurrency: **not met** (lowest 67%; by CPU time per turn" in text
    assert "| full | 10.0 | 18.0 | **1.80** | 1.80 | 5.0 / 9.0 | 1.80 | 18.0 (1.80) | 700 |" in text
    assert "no slower than 1.5x the first: **not met**" in text
    out = tmp_path / "DIALOGUE.md"
    write_report(out, text)
    out.write_text(out.read_text(encoding="utf-8") + "hand-written history\n", encoding="utf-8")
    write_report(out, text.replace("abc", "def"))
    again = out.read_text(encoding="utf-8")
    assert "commit def" in again and "commit abc" not in again
    assert again.endswith(NOTES_MARK + "\nhand-written history\n")
