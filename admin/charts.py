"""Server-rendered SVG bar charts: geometry only (the figures come from admin.reports)."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.money import EXPONENTS, format_money


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    kind: str  # "in" or "out"


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    #: (x, label) under each group
    ticks: list[tuple[float, str]]
    #: (y, label) for the scale on the left
    grid: list[tuple[float, str]]


def flow_chart(
    flows, *, currency: str = "TWD", in_label: str = "in", out_label: str = "out"
) -> BarChart:
    """Paired bars per month: inflow and outflow on one scale, with four grid lines."""
    width, height = 720, 260
    left, right, top, bottom = 90, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([max(f.inflow, f.outflow) for f in flows] + [1])
    group = plot_w / max(len(flows), 1)
    bar_w = group * 0.35
    baseline = top + plot_h
    bars, ticks = [], []
    for i, f in enumerate(flows):
        x0 = left + i * group + group * 0.12
        for j, (kind, value, label) in enumerate(
            (("in", f.inflow, in_label), ("out", f.outflow, out_label))
        ):
            h = plot_h * value / peak
            bars.append(
                Bar(
                    x=round(x0 + j * bar_w, 1),
                    y=round(baseline - h, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    label=label,
                    title=f"{f.month} {label}: {format_money(value, currency)}",
                    kind=kind,
                )
            )
        ticks.append((round(left + i * group + group / 2, 1), f.month[2:]))
    grid = []
    step = 10 ** EXPONENTS.get(currency, 0)
    for k in range(5):
        value = peak * k // 4 // step * step  # whole currency units on the scale
        grid.append((round(baseline - plot_h * k / 4, 1), format_money(value, currency)))
    return BarChart(width, height, baseline, bars, ticks, grid)
