"""Plotly figures of the analytics pages: pure functions of selector output, in the house style
of engagement.charts (figures as JSON dicts, drawn by static/js/engagement.js)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from engagement.charts import ACCENT, LEVEL_COLOURS, Figure, base_figure, chart_axis

PALETTE = (ACCENT, LEVEL_COLOURS["low"], LEVEL_COLOURS["medium"], LEVEL_COLOURS["critical"])


def date_axis(**extra: Any) -> dict[str, Any]:
    return chart_axis(type="date", tickformat="%d %b", **extra)


def lines_figure(
    days: Sequence[datetime.date],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_title: str,
    height: int = 300,
) -> Figure:
    """One line per (name, values) over `days`, sharing the axis."""
    x = [d.isoformat() for d in days]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": list(values),
            "name": name,
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
            "hovertemplate": f"{name}: %{{y}}<extra>%{{x|%d %b %Y}}</extra>",
        }
        for i, (name, values) in enumerate(series)
    ]
    return base_figure(
        data,
        height=height,
        xaxis=date_axis(),
        yaxis=chart_axis(title={"text": y_title}, rangemode="tozero"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def bars_figure(
    days: Sequence[datetime.date],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    y_title: str,
    height: int = 260,
) -> Figure:
    """Grouped daily bars, one colour per (name, values)."""
    x = [d.isoformat() for d in days]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": list(values),
            "name": name,
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": f"{name}: %{{y}}<extra>%{{x|%d %b %Y}}</extra>",
        }
        for i, (name, values) in enumerate(series)
    ]
    return base_figure(
        data,
        height=height,
        barmode="group",
        xaxis=date_axis(),
        yaxis=chart_axis(title={"text": y_title}, rangemode="tozero"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def funnel_figure(labels: Sequence[str], counts: Sequence[int], *, height: int = 320) -> Figure:
    """A Plotly funnel: one bar per step, with its count and its share of the top step."""
    data = [
        {
            "type": "funnel",
            "y": list(labels),
            "x": list(counts),
            "textinfo": "value+percent initial",
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}: %{x}<extra>%{percentInitial} of enrolled</extra>",
        }
    ]
    return base_figure(data, height=height, margin={"l": 160, "r": 16, "t": 16, "b": 32})
