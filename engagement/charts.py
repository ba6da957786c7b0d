"""Plotly figures for the engagement dashboard: pure functions of selector output, no queries.

Each function returns a figure in Plotly's JSON form (`{"data": [...], "layout": {...}}`),
not a `plotly.graph_objects.Figure`: building a graph object validates every property and
cost 30-60 ms per chart, a fifth of the dashboard's budget. `go.Figure(spec)` accepts the same
dict and validates it (the tests do exactly that). Pages embed figures with `figure_html`:
an empty <div> and the figure as JSON data, which static/js/engagement.js draws with plotly.js
from our static files. No inline script, so the Content-Security-Policy needs no exception.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString
from plotly.utils import PlotlyJSONEncoder

from engagement.selectors.dashboard import HistogramBucket, RunSummary

Figure = dict[str, Any]

LEVEL_COLOURS: dict[str, str] = {
    "low": "#2e9e6a",
    "medium": "#e0a526",
    "high": "#e0692b",
    "critical": "#c0392b",
}
ACCENT = "#2f6fde"
_GRID = {"gridcolor": "#e6eaf0", "zerolinecolor": "#c9d1db"}
_FONT = {
    "family": 'system-ui, -apple-system, "Segoe UI", sans-serif',
    "size": 13,
    "color": "#1d2733",
}
_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}


def _axis(**extra: Any) -> dict[str, Any]:
    return {**_GRID, **extra}


def _figure(data: list[dict[str, Any]], *, height: int = 300, **layout: Any) -> Figure:
    base: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": _FONT,
        "hoverlabel": {"font": {"family": _FONT["family"]}},
        "xaxis": _axis(),
        "yaxis": _axis(),
    }
    return {"data": data, "layout": {**base, **layout}}


def _band_colour(low: int) -> str:
    # Bands share the level colours so the chart reads like the badges in the list.
    if low >= 80:
        return LEVEL_COLOURS["critical"]
    if low >= 60:
        return LEVEL_COLOURS["high"]
    if low >= 30:
        return LEVEL_COLOURS["medium"]
    return LEVEL_COLOURS["low"]


def risk_histogram_figure(buckets: Sequence[HistogramBucket]) -> Figure:
    """Bar chart of learners per drop-off risk band, coloured like the risk levels."""
    bars = {
        "type": "bar",
        "x": [f"{b.low}\u2013{b.high}" for b in buckets],
        "y": [b.count for b in buckets],
        "marker": {"color": [_band_colour(b.low) for b in buckets]},
        "hovertemplate": "Risk %{x}: %{y} learners<extra></extra>",
    }
    return _figure(
        [bars],
        xaxis=_axis(title={"text": "Drop-off risk"}, tickangle=0),
        yaxis=_axis(title={"text": "Learners"}),
        bargap=0.08,
    )


def risk_trend_figure(summaries: Sequence[RunSummary]) -> Figure:
    """Learners per level (stacked bars) and average risk (line) for each finished run."""
    # One bar group per run: the as-of date, with the run id when a date was scored twice.
    dates = [s.as_of.isoformat() for s in summaries]
    x = [
        d if dates.count(d) == 1 else f"{d} #{s.run_id}"
        for d, s in zip(dates, summaries, strict=True)
    ]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": x,
            "y": [s.by_level.get(level, 0) for s in summaries],
            "name": level.capitalize(),
            "marker": {"color": LEVEL_COLOURS[level]},
            "hovertemplate": f"{level.capitalize()}: %{{y}}<extra></extra>",
        }
        for level in ("low", "medium", "high", "critical")
    ]
    data.append(
        {
            "type": "scatter",
            "x": x,
            "y": [s.average_risk for s in summaries],
            "name": "Average risk",
            "yaxis": "y2",
            "mode": "lines+markers",
            "line": {"color": ACCENT, "width": 3},
            "hovertemplate": "Average risk: %{y}<extra></extra>",
        }
    )
    return _figure(
        data,
        height=320,
        barmode="stack",
        xaxis=_axis(type="category", title={"text": "Scoring run (as of)"}, automargin=True),
        yaxis=_axis(title={"text": "Learners"}),
        yaxis2={
            "title": {"text": "Average risk"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "dtick": 25,
            "showgrid": False,
        },
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 56, "r": 56, "t": 40, "b": 48},
    )


def drivers_figure(drivers: Sequence[dict[str, Any]]) -> Figure:
    """Horizontal bars of each driver's contribution; red raises the risk, green lowers it."""
    rows = sorted(drivers, key=lambda d: abs(float(d.get("contribution") or 0)))
    contributions = [float(d.get("contribution") or 0) for d in rows]
    bars = {
        "type": "bar",
        "orientation": "h",
        "x": contributions,
        # Signal names keep the axis short; the hover carries the full label.
        "y": [d.get("signal") or d.get("label", "") for d in rows],
        "marker": {
            "color": [LEVEL_COLOURS["critical"] if c > 0 else "#2e9e6a" for c in contributions]
        },
        "customdata": [[d.get("label", ""), d.get("value")] for d in rows],
        "hovertemplate": (
            "%{customdata[0]}<br>value %{customdata[1]}<br>contribution %{x:+.2f}<extra></extra>"
        ),
    }
    return _figure(
        [bars],
        height=max(200, 40 + 34 * len(rows)),
        xaxis=_axis(title={"text": "Contribution to risk (points)"}),
        yaxis=_axis(automargin=True),
    )


def score_history_figure(history: Sequence[Any]) -> Figure:
    """Drop-off, weekly and monthly risk of a learner over the as-of dates of their scores."""
    x = [s.as_of.isoformat() for s in history]
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": [getattr(s, attr) for s in history],
            "name": name,
            "mode": "lines+markers",
            "line": {"color": colour, "width": 2},
        }
        for attr, name, colour in (
            ("drop_off_risk", "Drop-off risk", LEVEL_COLOURS["critical"]),
            ("weekly_risk", "Within 7 days", LEVEL_COLOURS["high"]),
            ("monthly_risk", "Within 30 days", ACCENT),
        )
    ]
    xaxis = _axis(title={"text": "As of"}, type="date", tickformat="%d %b")
    if history:
        # Whole days at least: with one or two scores Plotly would zoom in to milliseconds.
        first, last = history[0].as_of, history[-1].as_of
        pad = datetime.timedelta(days=max(1, (last - first).days // 10))
        xaxis["range"] = [(first - pad).isoformat(), (last + pad).isoformat()]
    return _figure(
        data,
        xaxis=xaxis,
        yaxis=_axis(title={"text": "Risk"}, range=[0, 100]),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 40},
    )


def figure_html(fig: Figure, *, div_id: str) -> SafeString:
    """An embeddable <div> and the figure's JSON (inert data, not a script) for the page to draw.

    static/js/engagement.js calls Plotly.newPlot for every `[data-plotly-figure]` div. The spec
    is not validated here: the tests check it, not every page view.
    """
    spec = {"data": fig["data"], "layout": fig["layout"], "config": _CONFIG}
    data_id = f"{div_id}-figure"
    return format_html(
        '<div id="{}" class="plotly-figure" data-plotly-figure="{}"></div>{}',
        div_id,
        data_id,
        json_script(spec, data_id, encoder=PlotlyJSONEncoder),
    )
