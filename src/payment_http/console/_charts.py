"""Charts as SVG drawn on the server: bars for a daily amount, a line for a daily rate.

No script and no inline style (the page's Content-Security-Policy allows neither): colours are
presentation attributes and CSS classes from ``console.css``. Each chart is an ``img`` role
with a title and a description that says what it shows in words; the page puts the same
numbers in a table beside it. Heights are computed in integers (amounts stay integers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from html import escape
from typing import Final

import attrs
from markupsafe import Markup

__all__ = ["Point", "bar_chart", "line_chart"]

HEIGHT: Final = 220
LEFT: Final = 92
RIGHT: Final = 12
TOP: Final = 14
BOTTOM: Final = 28


@attrs.frozen(slots=True)
class Point:
    day: date
    #: The value, or ``None`` where there is nothing to measure (a rate of no payments).
    value: int | None


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 0
    power = 1
    while power * 10 < value:
        power *= 10
    for step in (power, 2 * power, 5 * power // 2, 5 * power, 10 * power):
        if step >= value:
            return step
    return 10 * power  # pragma: no cover - the loop always returns


def _frame(chart_id: str, title: str, description: str, body: list[str], width: int) -> Markup:
    return Markup(  # noqa: S704 - every text in it is escaped below
        f'<svg class="chart" viewBox="0 0 {width} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _axes(top_label: str, mid_label: str, points: Sequence[Point], width: int) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts: list[str] = []
    for i, label in ((0, top_label), (1, mid_label), (2, "0")):
        y = TOP + plot_h * i // 2
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y}" y2="{y}"></line>'
        )
        if label:
            parts.append(
                f'<text class="axis" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
                f"{escape(label)}</text>"
            )
    step = _step(len(points), width)
    last = len(points) - 1
    for index, point in enumerate(points):
        if (last - index) % 7 == 0:
            x = LEFT + step * index + step // 2
            parts.append(
                f'<text class="axis" x="{x}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{point.day.strftime('%m-%d')}</text>"
            )
    return parts


def _step(n: int, width: int) -> int:
    return (width - LEFT - RIGHT) // max(1, n)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[Point],
    label: Callable[[int], str],
    *,
    width: int = 1000,
) -> Markup:
    """One bar a day; ``label`` writes a value (the scale, the tooltips)."""
    top = nice_ceiling(max((p.value or 0 for p in points), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    step = _step(len(points), width)
    bar = max(2, step * 7 // 10)
    body = _axes(label(top) if top else "", label(top // 2) if top else "", points, width)
    for index, point in enumerate(points):
        value = point.value or 0
        height = value * plot_h // top if top else 0
        if value and height < 1:
            height = 1
        x = LEFT + step * index + (step - bar) // 2
        y = TOP + plot_h - height
        body.append(
            f'<rect class="bar" x="{x}" y="{y}" width="{bar}" height="{height}">'
            f"<title>{point.day.isoformat()}: {escape(label(value))}</title></rect>"
        )
    return _frame(chart_id, title, description, body, width)


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[Point],
    *,
    scale: int,
    width: int = 620,
) -> Markup:
    """A rate per day in basis points of ``scale`` (10000 = 100 %); gaps where no value."""
    plot_h = HEIGHT - TOP - BOTTOM
    step = _step(len(points), width)
    body = _axes(_percent(scale), _percent(scale // 2), points, width)
    runs: list[list[tuple[int, int]]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            runs.append([])
            continue
        x = LEFT + step * index + step // 2
        y = TOP + plot_h - min(point.value, scale) * plot_h // scale
        runs[-1].append((x, y))
        body.append(
            f'<circle class="dot" cx="{x}" cy="{y}" r="3">'
            f"<title>{point.day.isoformat()}: {_percent(point.value)}</title></circle>"
        )
    for run in runs:
        if len(run) > 1:
            coords = " ".join(f"{x},{y}" for x, y in run)
            body.insert(0, f'<polyline class="line" points="{coords}"></polyline>')
    return _frame(chart_id, title, description, body, width)


def _percent(bps: int) -> str:
    whole, part = divmod(bps, 100)
    return f"{whole}.{part:02d} %" if part else f"{whole} %"


percent = _percent
