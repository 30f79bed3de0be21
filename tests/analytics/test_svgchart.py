"""The server-side SVG charts: well-formed SVG, accessible names, escaped text, values placed to scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from app.svgchart import Series, bar_chart, hbar_chart, line_chart, nice_ticks

NS = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_bar_chart_is_an_image_named_by_its_title_and_description() -> None:
    svg = parse(bar_chart("会话 <per day>", ["11-01", "11-02", "11-03"],
                          [Series("会话", [2, 0, 4]), Series("消息", [5, 1, 9])]))
    assert svg.get("role") == "img" and svg.get("viewBox") == "0 0 480 260"
    title, desc = svg.find(f"{NS}title"), svg.find(f"{NS}desc")
    assert title is not None and title.text == "会话 <per day>"  # escaped in the markup, intact when parsed
    assert desc is not None and "消息: highest 9 on 11-03, total 15" in (desc.text or "")
    labelled = (svg.get("aria-labelledby") or "").split()
    assert labelled == [title.get("id"), desc.get("id")]
    bars = [r for r in svg.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 6
    heights = {r.find(f"{NS}title").text: float(r.get("height") or 0) for r in bars}  # type: ignore[union-attr]
    # to scale, on an axis that tops at a round 10 over a 200-unit plot
    assert heights["11-03 · 消息: 9"] == pytest.approx(180)
    assert heights["11-03 · 会话: 4"] == pytest.approx(80)
    assert heights["11-02 · 会话: 0"] == 0


def test_a_line_chart_of_rates_breaks_where_there_is_no_value() -> None:
    svg = parse(line_chart("Rates", ["a", "b", "c", "d"], [Series("containment", [0.5, None, 1.0, 0.75])]))
    points = [c.find(f"{NS}title").text for c in svg.iter(f"{NS}circle")]  # type: ignore[union-attr]
    assert points == ["a · containment: 50.0%", "c · containment: 100.0%", "d · containment: 75.0%"]
    lines = list(svg.iter(f"{NS}polyline"))
    assert len(lines) == 1 and len((lines[0].get("points") or "").split()) == 2  # a alone, then c-d
    axis = [t.text for t in svg.iter(f"{NS}text")]
    assert "100.0%" in axis and "0.0%" in axis


def test_a_horizontal_top_list_cuts_long_labels_but_keeps_them_whole_in_the_tooltip() -> None:
    long = "这是一个非常非常长的未答复问题的例子，超过十个字"
    svg = parse(hbar_chart("Top", [long, "短"], [7, 3]))
    texts = [t.text or "" for t in svg.iter(f"{NS}text")]
    assert long[:9] + "…" in texts and "7" in texts
    tips = [r.find(f"{NS}title").text for r in svg.iter(f"{NS}rect")]  # type: ignore[union-attr]
    assert tips == [f"{long}: 7", "短: 3"]


def test_empty_charts_still_render_and_say_so() -> None:
    for chart in (bar_chart("t", [], [Series("s", [])]), line_chart("t", [], [Series("s", [])]),
                  hbar_chart("t", [], [])):
        svg = parse(chart)
        assert svg.find(f"{NS}desc").text == "No data in this range."  # type: ignore[union-attr]


def test_nice_ticks() -> None:
    assert nice_ticks(9) == [0, 5, 10]
    assert nice_ticks(1.0) == [0, 0.5, 1.0]
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(1234)[-1] >= 1234 and len(nice_ticks(1234)) <= 6
