"""Inline SVG line charts for the HTML report: the same curves as the PNG plots (tables_layout.curve_panels),
drawn in the page so the report stays one file with no charting library and no network.

x is a log2 token axis (budgets and context lengths double), y the score; the report's curve is
dashed, each run's solid, as in exaone_eval/plots.py. Every label is escaped: run labels come from
paths a user chose.
"""

from __future__ import annotations

import math
from html import escape

Series = tuple[str, list[int], list[float], bool]
"""(label, x in tokens, y scores, is the report's curve): tables_layout.curve_panels' shape."""

WIDTH, HEIGHT = 360, 230
LEFT, RIGHT, TOP, BOTTOM = 42, 12, 26, 34  # margins around the plot area, in px
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _token_label(x: int) -> str:
    return f"{x // 1024}K" if x % 1024 == 0 else str(x)


def _nice_range(values: list[float]) -> tuple[float, float]:
    """y limits rounded out to tens, with a little room when all values are equal."""
    lo, hi = min(values), max(values)
    lo, hi = math.floor(lo / 10) * 10, math.ceil(hi / 10) * 10
    return (lo, hi) if hi > lo else (lo - 10, hi + 10)


def panel_svg(title: str, series: list[Series]) -> str:
    """One chart: axes, grid, one polyline with point markers per series, title; no legend (the
    panel's legend is HTML beside it, so long labels wrap)."""
    xs = sorted({x for _, sx, _, _ in series for x in sx})
    ys = [y for _, _, sy, _ in series for y in sy]
    if not xs or not ys:
        raise ValueError(f"panel {title!r}: nothing to plot")
    lx = [math.log2(x) for x in xs]
    x0, x1 = min(lx), max(lx)
    y0, y1 = _nice_range(ys)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: int) -> float:
        return LEFT + (0.5 if x1 == x0 else (math.log2(x) - x0) / (x1 - x0)) * plot_w

    def py(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" class="chart-title">{escape(title)}</text>']
    step = 10 if y1 - y0 <= 60 else 20
    for y in range(int(y0), int(y1) + 1, step):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 4}" y="{py(y) + 3:.1f}" text-anchor="end" class="tick">{y}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" class="tick">{_token_label(x)}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    for i, (label, sx, sy, is_report) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(sx, sy))
        dash = ' stroke-dasharray="5 3"' if is_report else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.8"{dash}>'
                     f'<title>{escape(label)}</title></polyline>')
        parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.8" fill="{color}"><title>{escape(label)}: '
                  f'{_token_label(x)} → {y:.2f}</title></circle>' for x, y in zip(sx, sy)]
    parts.append("</svg>")
    return "".join(parts)


def legend(series: list[Series]) -> list[tuple[str, str, bool]]:
    """(color, label, dashed) per series, in the chart's colors, for the HTML legend."""
    return [(COLORS[i % len(COLORS)], label, is_report) for i, (label, _, _, is_report) in enumerate(series)]
