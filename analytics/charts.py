"""Plotly figures of the analytics pages: pure functions of selector output, in the house style
of engagement.charts (figures as JSON dicts, drawn by static/js/engagement.js)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from engagement.charts import (
    ACCENT,
    LEGACY_COLOUR,
    LEVEL_COLOURS,
    Figure,
    base_figure,
    chart_axis,
)

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


def active_learners_figure(rows: Sequence[Any]) -> Figure:
    """DAU, WAU and MAU lines of daily aggregate rows (anything with day, dau, wau, mau)."""
    return lines_figure(
        [r.day for r in rows],
        [
            ("DAU", [r.dau for r in rows]),
            ("WAU", [r.wau for r in rows]),
            ("MAU", [r.mau for r in rows]),
        ],
        y_title="Active learners",
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


def trends_figure(
    days: Sequence[datetime.date],
    values: Sequence[float],
    averages: Sequence[tuple[str, Sequence[float | None]]],
    *,
    fitted: Sequence[float] | None,
    lower: Sequence[float] | None,
    upper: Sequence[float] | None,
    anomalies: Sequence[tuple[datetime.date, float]],
    y_title: str,
    height: int = 320,
) -> Figure:
    """The series, its moving averages, the trend line inside its confidence band, and the
    anomalous days as markers."""
    x = [d.isoformat() for d in days]
    data: list[dict[str, Any]] = []
    if fitted is not None and lower is not None and upper is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x + x[::-1],
                "y": list(upper) + list(lower)[::-1],
                "fill": "toself",
                "fillcolor": "rgba(120,120,120,0.15)",
                "line": {"width": 0},
                "name": "Trend 95% CI",
                "hoverinfo": "skip",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": list(fitted),
                "name": "Trend",
                "line": {"color": "#777", "dash": "dash", "width": 1.5},
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": list(values),
            "name": y_title,
            "line": {"color": PALETTE[0], "width": 2},
        }
    )
    for i, (name, series) in enumerate(averages, start=1):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": list(series),
                "name": name,
                "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.5},
            }
        )
    if anomalies:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [d.isoformat() for d, _ in anomalies],
                "y": [v for _, v in anomalies],
                "name": "Anomaly",
                "marker": {"color": "#c0392b", "size": 10, "symbol": "x"},
            }
        )
    return base_figure(
        data,
        height=height,
        xaxis=date_axis(),
        yaxis=chart_axis(title={"text": y_title}, rangemode="tozero"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def forecast_figure(
    history: Sequence[tuple[datetime.date, float]],
    points: Sequence[dict[str, Any]],
    *,
    y_title: str,
    height: int = 320,
) -> Figure:
    """The recent history, then the forecast line inside its shaded 95% and 80% prediction
    bands (`points` as stored: {date, mean, lower_80, upper_80, lower_95, upper_95})."""
    x = [p["date"] for p in points]
    data: list[dict[str, Any]] = []
    for level, colour in ((95, "rgba(120,120,120,0.15)"), (80, "rgba(120,120,120,0.3)")):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x + x[::-1],
                "y": [p[f"upper_{level}"] for p in points]
                + [p[f"lower_{level}"] for p in points][::-1],
                "fill": "toself",
                "fillcolor": colour,
                "line": {"width": 0},
                "name": f"{level}% prediction interval",
                "hoverinfo": "skip",
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [d.isoformat() for d, _ in history],
            "y": [v for _, v in history],
            "name": y_title,
            "line": {"color": PALETTE[0], "width": 2},
        }
    )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": [p["mean"] for p in points],
            "name": "Forecast",
            "line": {"color": PALETTE[0], "dash": "dash", "width": 2},
            "hovertemplate": "Forecast: %{y:.1f}<extra>%{x|%d %b %Y}</extra>",
        }
    )
    return base_figure(
        data,
        height=height,
        xaxis=date_axis(),
        yaxis=chart_axis(title={"text": y_title}, rangemode="tozero"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def weekday_figure(
    labels: Sequence[str], ratios: Sequence[float | None], *, height: int = 240
) -> Figure:
    """One bar per weekday: its mean relative to the overall mean (1 = average)."""
    data = [
        {
            "type": "bar",
            "x": list(labels),
            "y": [r if r is not None else 0 for r in ratios],
            "name": "Relative to the mean",
            "marker": {"color": PALETTE[0]},
            "hovertemplate": "%{x}: %{y:.2f} x the mean<extra></extra>",
        }
    ]
    return base_figure(
        data,
        height=height,
        yaxis=chart_axis(title={"text": "Relative to the mean (1 = average)"}, rangemode="tozero"),
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
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


def per_minute_figure(
    minutes: Sequence[tuple[datetime.datetime, int]], *, y_title: str, height: int = 260
) -> Figure:
    """Bars of a count per minute (UTC), e.g. the events received in the last hour."""
    data = [
        {
            "type": "bar",
            "x": [m.isoformat() for m, _ in minutes],
            "y": [n for _, n in minutes],
            "name": y_title,
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}<extra>%{x|%H:%M} UTC</extra>",
        }
    ]
    return base_figure(
        data,
        height=height,
        xaxis=chart_axis(type="date", tickformat="%H:%M"),
        yaxis=chart_axis(title={"text": y_title}, rangemode="tozero"),
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
    )


def durations_figure(
    series: Sequence[tuple[str, Sequence[tuple[datetime.datetime, float]]]],
    *,
    height: int = 280,
) -> Figure:
    """One line of (start, seconds) points per run kind: how long each run took, over time."""
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": [at.isoformat() for at, _ in points],
            "y": [seconds for _, seconds in points],
            "name": name,
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
            "hovertemplate": f"{name}: %{{y}} s<extra>%{{x|%d %b %H:%M}}</extra>",
        }
        for i, (name, points) in enumerate(series)
    ]
    return base_figure(
        data,
        height=height,
        xaxis=chart_axis(type="date", tickformat="%d %b %H:%M"),
        yaxis=chart_axis(title={"text": "Seconds"}, rangemode="tozero"),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def retention_curves_figure(
    curves: Sequence[tuple[str, Sequence[float | None]]], *, height: int = 320
) -> Figure:
    """Retention curves: one line per (name, share of the cohort active in week 0, 1, ...)."""
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": [f"Week {k}" for k in range(len(rates))],
            "y": [None if r is None else round(100 * r, 1) for r in rates],
            "name": name,
            "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
            "hovertemplate": f"{name}: %{{y}}%<extra>%{{x}}</extra>",
        }
        for i, (name, rates) in enumerate(curves)
    ]
    return base_figure(
        data,
        height=height,
        xaxis=chart_axis(type="category"),
        yaxis=chart_axis(title={"text": "% of the cohort active"}, range=[0, 100]),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


LIFECYCLE_COLOURS = {
    "New": ACCENT,
    "Returning": LEVEL_COLOURS["low"],
    "Resurrecting": LEVEL_COLOURS["medium"],
    "Dormant": LEVEL_COLOURS["critical"],
}


def lifecycle_figure(
    weeks: Sequence[datetime.date],
    new: Sequence[int],
    returning: Sequence[int],
    resurrecting: Sequence[int],
    dormant: Sequence[int],
    *,
    height: int = 300,
) -> Figure:
    """The weekly lifecycle as stacked bars: new, returning and resurrecting learners above
    the axis, dormant ones below it (negative), as PostHog draws it."""
    x = [w.isoformat() for w in weeks]
    series = (
        ("New", list(new)),
        ("Returning", list(returning)),
        ("Resurrecting", list(resurrecting)),
        ("Dormant", [-n for n in dormant]),
    )
    data = [
        {
            "type": "bar",
            "x": x,
            "y": values,
            "name": name,
            "marker": {"color": LIFECYCLE_COLOURS[name]},
            "hovertemplate": f"{name}: %{{y}}<extra>week of %{{x|%d %b %Y}}</extra>",
        }
        for name, values in series
    ]
    return base_figure(
        data,
        height=height,
        barmode="relative",
        xaxis=date_axis(),
        yaxis=chart_axis(title={"text": "Learners"}),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def ranking_figure(
    labels: Sequence[str], values: Sequence[float], *, x_title: str, height: int | None = None
) -> Figure:
    """Horizontal bars, the first label on top (a "top 10" chart)."""
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": list(labels)[::-1],
            "x": [float(v) for v in values][::-1],
            "name": x_title,
            "marker": {"color": ACCENT},
            "hovertemplate": "%{y}: %{x}<extra></extra>",
        }
    ]
    return base_figure(
        data,
        height=height or 80 + 28 * max(1, len(labels)),
        xaxis=chart_axis(title={"text": x_title}, rangemode="tozero"),
        yaxis=chart_axis(automargin=True),
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
    )


def first_week_outcomes_figure(outcomes: Sequence[Any]) -> Figure:
    """Grouped bars of each outcome's rate (percent) in the weak first weeks and the rest,
    with their 95% Wilson intervals as error bars. `outcomes`: anything with label, weak and
    rest (each with rate, low, high, successes, total)."""
    labels = [o.label for o in outcomes]
    data = []
    for name, attr, colour in (
        ("Weak first week", "weak", LEVEL_COLOURS["high"]),
        ("The rest", "rest", ACCENT),
    ):
        groups = [getattr(o, attr) for o in outcomes]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": labels,
                "y": [round(100 * g.rate, 1) for g in groups],
                "marker": {"color": colour},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(100 * (g.high - g.rate), 1) for g in groups],
                    "arrayminus": [round(100 * (g.rate - g.low), 1) for g in groups],
                    "color": "#1d2733",
                    "thickness": 1.5,
                },
                "customdata": [
                    [g.successes, g.total, round(100 * g.low, 1), round(100 * g.high, 1)]
                    for g in groups
                ],
                "hovertemplate": (
                    f"{name}: %{{y}}% (%{{customdata[0]}} of %{{customdata[1]}}; 95% CI "
                    "%{customdata[2]}-%{customdata[3]}%)<extra>%{x}</extra>"
                ),
            }
        )
    return base_figure(
        data,
        height=300,
        barmode="group",
        yaxis=chart_axis(title={"text": "Share of enrolments (%)"}, range=[0, 100]),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 56, "r": 16, "t": 32, "b": 40},
    )


def movements_figure(movements: Sequence[dict[str, Any]]) -> Figure:
    """The week-over-week change (%) of each metric as a horizontal bar, significant moves in
    the accent colour and the others grey (rows of InsightRun.movements)."""
    rows = [m for m in movements if m.get("change_pct") is not None]
    labels = [m["label"] for m in rows]
    return base_figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [m["change_pct"] for m in rows],
                "y": labels,
                "marker": {"color": [ACCENT if m["significant"] else LEGACY_COLOUR for m in rows]},
                "customdata": [m["p_value"] for m in rows],
                "hovertemplate": "%{y}: %{x:+.1f}% (Holm p = %{customdata})<extra></extra>",
            }
        ],
        height=max(160, 36 * len(rows) + 60),
        xaxis=chart_axis(title={"text": "Change (%)"}, zeroline=True),
        yaxis=chart_axis(automargin=True, autorange="reversed"),
        margin={"l": 16, "r": 16, "t": 8, "b": 40},
    )


def no_show_figure(
    labels: Sequence[str], expected_no_shows: Sequence[float], registered: Sequence[int]
) -> Figure:
    """Per upcoming session (first on top), the learners expected to come and the expected
    no-shows (the sum of their probabilities), stacked to the number registered."""
    no_shows = [round(float(v), 1) for v in expected_no_shows]
    coming = [round(n - v, 1) for n, v in zip(registered, no_shows, strict=True)]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": list(labels)[::-1],
            "x": values[::-1],
            "name": name,
            "marker": {"color": colour},
            "hovertemplate": f"%{{y}}: %{{x}} {name.lower()}<extra></extra>",
        }
        for name, values, colour in (
            ("Expected to attend", coming, LEVEL_COLOURS["low"]),
            ("Expected no-shows", no_shows, LEVEL_COLOURS["high"]),
        )
    ]
    return base_figure(
        data,
        height=110 + 48 * max(1, len(labels)),
        barmode="stack",
        xaxis=chart_axis(title={"text": "Learners registered"}, rangemode="tozero"),
        yaxis=chart_axis(automargin=True),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 16, "r": 16, "t": 32, "b": 40},
    )
