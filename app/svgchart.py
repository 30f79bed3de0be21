"""Small server-side SVG charts for the admin pages: no JavaScript, no library, nothing fetched.

Each chart is one ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (what a screen reader announces;
the page shows the same numbers in a table next to it), a ``viewBox`` so it scales from a 360-px phone to a
desktop, and a ``<title>`` per bar or point (the browser's tooltip).  Colours are presentation attributes
(allowed by the console's CSP, which forbids inline ``style``) and CSS classes ``series-N`` a stylesheet may
override, e.g. for dark mode; the default palette keeps 3:1 contrast against white (WCAG non-text contrast).

Every text that goes into a chart is XML-escaped here; the result is ``Markup`` for a Jinja2 template.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#1f5fa8", "#b4570b", "#2e7d32", "#6a3d9a")  # >= 4.5:1 against white
INK = "#1a1a1a"
GRID = "#767676"  # 4.5:1 against white
WIDTH, HEIGHT = 480, 260  # a phone shows it at ~0.7 scale, a desktop (max-width in the CSS) at ~1.2
FONT = 14
_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no value (a rate with nothing to divide), drawn as a gap


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _number(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 5 × 10^k) up to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _open(title: str, desc: str, height: int) -> tuple[str, list[str]]:
    uid = f"chart-{next(_ids)}"
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}"'
        f' aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMidYMid meet" font-size="{FONT}"'
        f' font-family="sans-serif">',
        f'<title id="{uid}-t">{_e(title)}</title>',
        f'<desc id="{uid}-d">{_e(desc)}</desc>',
    ]
    return uid, head


def text_width(text: str) -> float:
    """Roughly how wide ``text`` is drawn: a CJK character is one em, anything else about half."""
    return sum(FONT if ord(ch) > 0x2E80 else FONT * 0.55 for ch in text)


def _legend(series: Sequence[Series]) -> tuple[list[str], float]:
    """The legend, wrapped onto as many lines as it needs; returns it and the height it takes."""
    parts, x, y = [], 8.0, 18.0
    for i, s in enumerate(series):
        width = 17 + text_width(s.name) + 14
        if x > 8 and x + width > WIDTH:
            x, y = 8.0, y + 20
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect class="series-{i}" x="{x:.1f}" y="{y - 11:.1f}" width="12" height="12"'
                     f' fill="{colour}"/>')
        parts.append(f'<text class="ink" x="{x + 17:.1f}" y="{y:.1f}" fill="{INK}">{_e(s.name)}</text>')
        x += width
    return parts, y + 12


def _axes(ticks: list[float], top: float, left: float, right: float, y0: float, y1: float,
          percent: bool) -> list[str]:
    parts = []
    for tick in ticks:
        y = y1 - (y1 - y0) * tick / top
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"'
                     f' stroke-width="{1 if tick == 0 else 0.4}"/>')
        parts.append(f'<text class="ink" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end"'
                     f' fill="{INK}">{_e(_number(tick, percent))}</text>')
    return parts


def _x_labels(labels: Sequence[str], centres: list[float], y: float) -> list[str]:
    step = max(1, math.ceil(len(labels) / 6))  # at most ~6 labels fit
    return [f'<text class="ink" x="{centres[i]:.1f}" y="{y:.1f}" text-anchor="middle" fill="{INK}">'
            f'{_e(labels[i])}</text>' for i in range(0, len(labels), step)]


def _desc(labels: Sequence[str], series: Sequence[Series], percent: bool) -> str:
    if not labels:
        return "No data in this range."
    parts = []
    for s in series:
        indexed = [(v, i) for i, v in enumerate(s.values) if v is not None]
        if not indexed:
            parts.append(f"{s.name}: no values")
            continue
        peak, at = max(indexed, key=lambda p: p[0])
        total = "" if percent else f", total {_number(sum(v for v, _ in indexed), False)}"
        parts.append(f"{s.name}: highest {_number(peak, percent)} on {labels[at]}{total}")
    return f"{labels[0]} to {labels[-1]}. " + "; ".join(parts) + ". The table below lists every value."


@dataclass
class _Plot:
    """The frame both charts draw in: the SVG so far (title, legend, axes) and its geometry."""

    parts: list[str]
    left: float
    y0: float
    y1: float
    top: float
    height: int
    slot: float  # the width given to one label


def _plot(title: str, labels: Sequence[str], series: Sequence[Series], percent: bool, desc: str) -> _Plot:
    legend, y0 = _legend(series)
    height = HEIGHT + int(y0) - 30  # a legend of two lines makes the chart taller, not the plot smaller
    _, parts = _open(title, desc or _desc(labels, series, percent), height)
    left, right, y1 = 56.0, WIDTH - 12.0, height - 30.0
    top_value = max([v for s in series for v in s.values if v is not None] or [0])
    ticks = nice_ticks(1.0 if percent and top_value <= 1 else top_value)
    top = ticks[-1]
    parts += legend
    parts += _axes(ticks, top, left, right, y0, y1, percent)
    return _Plot(parts, left, y0, y1, top, height, (right - left) / max(1, len(labels)))


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = False,
              desc: str = "") -> Markup:
    """Vertical bars, one group per label (a day, a week, a channel), one bar per series."""
    plot = _plot(title, labels, series, percent, desc)
    parts, left, y0, y1, top, height, slot = (plot.parts, plot.left, plot.y0, plot.y1, plot.top, plot.height,
                                              plot.slot)
    width = max(1.0, slot * 0.8 / max(1, len(series)))
    centres = []
    for i, label in enumerate(labels):
        x = left + slot * i + slot * 0.1
        centres.append(left + slot * (i + 0.5))
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = (y1 - y0) * value / top
            parts.append(
                f'<rect class="series-{j}" x="{x + j * width:.1f}" y="{y1 - h:.1f}" width="{width:.1f}"'
                f' height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{_e(label)} · {_e(s.name)}:'
                f' {_e(_number(value, percent))}</title></rect>')
    parts += _x_labels(labels, centres, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = True,
               desc: str = "") -> Markup:
    """Lines over the labels (rates per day or week); a None value breaks the line."""
    plot = _plot(title, labels, series, percent, desc)
    parts, left, y0, y1, top, height, slot = (plot.parts, plot.left, plot.y0, plot.y1, plot.top, plot.height,
                                              plot.slot)
    centres = [left + slot * (i + 0.5) for i in range(len(labels))]
    for j, s in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        points = []
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            xy = (centres[i], y1 - (y1 - y0) * value / top)
            runs[-1].append(xy)
            points.append(
                f'<circle class="series-{j}" cx="{xy[0]:.1f}" cy="{xy[1]:.1f}" r="3.5" fill="{colour}">'
                f'<title>{_e(labels[i])} · {_e(s.name)}: {_e(_number(value, percent))}</title></circle>')
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="line series-{j}" points="{path}" fill="none"'
                             f' stroke="{colour}" stroke-width="2"/>')
        parts += points
    parts += _x_labels(labels, centres, height - 10)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, desc: str = "",
               max_label: int = 10) -> Markup:
    """Horizontal bars, largest first as given (a top list); long labels are cut, the table has them whole."""
    rows = max(1, len(labels))
    height = 24 + rows * 26
    if not desc:
        pairs = zip(labels, values, strict=True)
        desc = ("No data in this range." if not labels else
                "; ".join(f"{label}: {_number(v, False)}" for label, v in pairs) + ".")
    _, parts = _open(title, desc, height)
    left, right = 150.0, WIDTH - 50.0
    top = max([*values, 1])
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 12 + i * 26
        shown = label if len(label) <= max_label else label[: max_label - 1] + "…"
        w = (right - left) * value / top
        parts.append(f'<text class="ink" x="{left - 8}" y="{y + 14}" text-anchor="end" fill="{INK}">'
                     f'{_e(shown)}</text>')
        parts.append(f'<rect class="series-0" x="{left}" y="{y}" width="{max(w, 1):.1f}" height="18"'
                     f' fill="{PALETTE[0]}"><title>{_e(label)}: {_e(_number(value, False))}</title></rect>')
        parts.append(f'<text class="ink" x="{left + max(w, 1) + 6:.1f}" y="{y + 14}" fill="{INK}">'
                     f'{_e(_number(value, False))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
