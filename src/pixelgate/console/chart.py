"""The usage chart: an inline SVG drawn on the server (no chart library, no script).

Bars are images per day; the line is requests per day, on the same scale. Every value is
also in the table under the chart and in each bar's <title>, so nothing depends on reading
pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from pixelgate.console.data import DayUsage

__all__ = ["daily_chart"]

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 30


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at least `value` (a readable top of the axis)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def daily_chart(days: Sequence[DayUsage]) -> Markup:
    if not days:
        return Markup("")
    peak = _nice_max(max(max(d.images, d.requests) for d in days) or 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)
    bar_w = max(1.0, slot * 0.6)

    def y(value: int) -> float:
        return TOP + plot_h - plot_h * value / peak

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Images and requests per day" xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0, 0.5, 1):
        gy = y(round(peak * frac))
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{round(peak * frac)}</text>"
        )
    points = []
    for i, d in enumerate(days):
        cx = LEFT + slot * i + slot / 2
        top = y(d.images)
        label = escape(f"{d.day.isoformat()}: {d.images} images, {d.requests} requests")
        parts.append(
            f'<rect class="bar" x="{cx - bar_w / 2:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
            f'height="{TOP + plot_h - top:.1f}"><title>{label}</title></rect>'
        )
        points.append(f"{cx:.1f},{y(d.requests):.1f}")
    parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
    for point, d in zip(points, days, strict=True):
        px, py = point.split(",")
        parts.append(
            f'<circle class="dot" cx="{px}" cy="{py}" r="2.5">'
            f"<title>{escape(d.day.isoformat())}: {d.requests} requests</title></circle>"
        )
    step = max(1, len(days) // 6)
    for i in range(0, len(days), step):
        cx = LEFT + slot * i + slot / 2
        parts.append(
            f'<text class="axis" x="{cx:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{days[i].day.strftime('%m-%d')}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
