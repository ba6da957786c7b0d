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
import math
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
LEGACY_COLOUR = "#8a96a8"
DAY_MS = 86_400_000  # one day on a Plotly date axis
# Up to this many days on the history axis get a label each; longer spans label every n-th
# day (whole days still), so labels never crowd or fall between days.
MAX_DAY_LABELS = 14
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


def chart_axis(**extra: Any) -> dict[str, Any]:
    """An axis in the house style (light grid), with `extra` properties."""
    return {**_GRID, **extra}


def base_figure(data: list[dict[str, Any]], *, height: int = 300, **layout: Any) -> Figure:
    """A figure of `data` traces in the house style (font, margins, transparent background);
    other apps' dashboards build on it so that every chart looks alike."""
    base: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": _FONT,
        "hoverlabel": {"font": {"family": _FONT["family"]}},
        "xaxis": chart_axis(),
        "yaxis": chart_axis(),
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
    """Bar chart of enrolments per drop-off risk band, coloured like the risk levels."""
    bars = {
        "type": "bar",
        "x": [f"{b.low}\u2013{b.high}" for b in buckets],
        "y": [b.count for b in buckets],
        "marker": {"color": [_band_colour(b.low) for b in buckets]},
        "hovertemplate": "Risk %{x}: %{y} enrolments<extra></extra>",
    }
    return base_figure(
        [bars],
        # Plotly turns the labels only when they would overlap (a phone), not on a desktop.
        xaxis=chart_axis(title={"text": "Drop-off risk"}, automargin=True),
        yaxis=chart_axis(title={"text": "Enrolments"}, rangemode="nonnegative"),
        bargap=0.08,
    )


def risk_trend_figure(summaries: Sequence[RunSummary]) -> Figure:
    """Enrolments per level (stacked bars) and average risk (line) for each finished run."""
    # One bar group per run: the as-of date, with the run id when a date was scored twice.
    dates = [f"{s.as_of:%d %b}" for s in summaries]
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
    return base_figure(
        data,
        height=320,
        barmode="stack",
        xaxis=chart_axis(type="category", title={"text": "Scoring run (as of)"}, automargin=True),
        yaxis=chart_axis(title={"text": "Enrolments"}, rangemode="nonnegative"),
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


def score_history_figure(history: Sequence[Any]) -> Figure:
    """Drop-off, weekly and monthly risk of one enrolment over the as-of dates of its scores.

    Scores from before scores per enrolment (no course) are drawn apart, as a grey dotted
    line of the learner's drop-off risk then. The date axis labels whole days only: one label
    per day up to MAX_DAY_LABELS days, then every n-th day.
    """
    current = [s for s in history if getattr(s, "course_id", None) is not None]
    legacy = [s for s in history if getattr(s, "course_id", None) is None]
    x = [s.as_of.isoformat() for s in current]
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": [getattr(s, attr) for s in current],
            "name": name,
            "mode": "lines+markers",
            "line": {"color": colour, "width": 2},
            "hovertemplate": f"{name}: %{{y}}<extra>%{{x|%d %b %Y}}</extra>",
        }
        for attr, name, colour in (
            ("drop_off_risk", "Drop-off risk", LEVEL_COLOURS["critical"]),
            ("weekly_risk", "Within 7 days", LEVEL_COLOURS["high"]),
            ("monthly_risk", "Within 30 days", ACCENT),
        )
    ]
    if legacy:
        data.append(
            {
                "type": "scatter",
                "x": [s.as_of.isoformat() for s in legacy],
                "y": [s.drop_off_risk for s in legacy],
                "name": "Before per-course scores",
                "mode": "lines+markers",
                "line": {"color": LEGACY_COLOUR, "width": 2, "dash": "dot"},
                "hovertemplate": "Learner risk: %{y}<extra>%{x|%d %b %Y}</extra>",
            }
        )
    xaxis = chart_axis(title={"text": "As of"}, type="date", tickformat="%d %b", dtick=DAY_MS)
    if history:
        # Whole days at least: with one or two scores Plotly would zoom in to hours.
        first = min(s.as_of for s in history)
        last = max(s.as_of for s in history)
        span = (last - first).days
        pad = datetime.timedelta(days=max(1, span // 10))
        xaxis["range"] = [(first - pad).isoformat(), (last + pad).isoformat()]
        step = max(1, math.ceil((span + 2 * pad.days) / MAX_DAY_LABELS))
        xaxis["dtick"] = step * DAY_MS
        # Ticks on midnights, so each label names the day of the points above it.
        xaxis["tick0"] = first.isoformat()
    return base_figure(
        data,
        xaxis=xaxis,
        yaxis=chart_axis(title={"text": "Risk"}, range=[0, 100]),
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
