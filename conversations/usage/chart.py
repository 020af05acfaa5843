"""Daily usage as an inline SVG bar chart: one stacked bar per day, one colour per model.

Built server-side from aggregated rows, so the page needs no script and no charting library; the
template draws the rectangles this module places (templates/conversations/usage_chart.html).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

PALETTE = ("#6d5efc", "#2fb7a3", "#f08c3a", "#e0508a", "#3a8ff0", "#9b6b2f", "#6b9b2f", "#888ea0")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 56, 24, 10


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class Chart:
    title: str
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (model, colour)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label) on the value axis
    days: list[tuple[float, str]] = field(default_factory=list)  # (x, label) under some bars
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM
    empty: bool = True


def daily_charts(rows: Iterable[Mapping], *, first_day: date, days: int) -> tuple[Chart, Chart]:
    """Tokens and cost charts from rows of {"day", "model_label", "tokens", "cost_usd"}."""
    rows = list(rows)
    models = sorted({row["model_label"] for row in rows})
    colours = {model: PALETTE[index % len(PALETTE)] for index, model in enumerate(models)}
    tokens = _chart("Tokens per day", rows, "tokens", colours, first_day, days, lambda v: f"{int(v):,}")
    cost = _chart("Cost per day (USD)", rows, "cost_usd", colours, first_day, days, lambda v: f"${v:,.4f}")
    return tokens, cost


def _chart(title, rows, key, colours, first_day: date, days: int, fmt) -> Chart:
    per_day: dict[date, dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        per_day[row["day"]][row["model_label"]] = Decimal(row[key] or 0)
    chart = Chart(title, legend=list(colours.items()))
    peak = max((sum(values.values()) for values in per_day.values()), default=Decimal(0))
    chart.empty = peak == 0
    scale = (chart.baseline - TOP) / float(peak or 1)
    slot = (WIDTH - LEFT) / days
    for index in range(days):
        day = first_day + timedelta(days=index)
        x, y = LEFT + index * slot + slot * 0.15, float(chart.baseline)
        for model, value in sorted(per_day.get(day, {}).items()):
            height = float(value) * scale
            y -= height
            chart.bars.append(Bar(x, y, slot * 0.7, height, colours[model], f"{day:%d %b}: {model}, {fmt(value)}"))
        if index % 7 == 0 or index == days - 1:
            chart.days.append((LEFT + index * slot + slot / 2, f"{day:%d %b}"))
    chart.ticks = [(chart.baseline - (chart.baseline - TOP) * f, fmt(peak * Decimal(str(f)))) for f in (0, 0.5, 1)]
    return chart
