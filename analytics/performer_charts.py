"""Plotly figures of the performers page: pure functions of selector output, in the house
style of analytics.charts (kept in their own module, as the page's own)."""

from __future__ import annotations

from collections.abc import Sequence

from engagement.charts import ACCENT, LEVEL_COLOURS, Figure, base_figure, chart_axis

SEGMENT_COLOURS = {
    "star": LEVEL_COLOURS["low"],
    "average": ACCENT,
    "lagging": LEVEL_COLOURS["critical"],
}
SEGMENT_NAMES = {"star": "Star", "average": "Average", "lagging": "Lagging"}


def score_distribution_figure(
    scores: Sequence[tuple[float, str]],
    *,
    star_threshold: float | None,
    lagging_threshold: float | None,
    height: int = 300,
) -> Figure:
    """The composite scores as a histogram (5-point bins, 0-100), one colour per segment,
    with the star and lagging thresholds as dashed lines."""
    data = [
        {
            "type": "histogram",
            "x": [round(s, 2) for s, seg in scores if seg == segment],
            "name": SEGMENT_NAMES[segment],
            "xbins": {"start": 0, "end": 100, "size": 5},
            "marker": {"color": colour},
            "hovertemplate": f"{SEGMENT_NAMES[segment]}: %{{y}} with %{{x}}<extra></extra>",
        }
        for segment, colour in SEGMENT_COLOURS.items()
    ]
    lines = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": value,
            "x1": value,
            "y0": 0,
            "y1": 1,
            "line": {"color": SEGMENT_COLOURS[segment], "dash": "dash", "width": 2},
        }
        for segment, value in (("star", star_threshold), ("lagging", lagging_threshold))
        if value is not None
    ]
    return base_figure(
        data,
        height=height,
        barmode="stack",
        shapes=lines,
        xaxis=chart_axis(title={"text": "Composite score"}, range=[0, 100]),
        yaxis=chart_axis(title={"text": "Learners"}),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 48, "r": 16, "t": 32, "b": 48},
    )


def effect_sizes_figure(
    labels: Sequence[str],
    d: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    *,
    height: int | None = None,
) -> Figure:
    """Cohen's d of each factor (star minus lagging) with its 95% interval, the largest on
    top; positive = stars have more of it."""
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "orientation": "h",
            "y": list(labels)[::-1],
            "x": [round(v, 3) for v in d][::-1],
            "error_x": {
                "type": "data",
                "symmetric": False,
                "array": [round(h - v, 3) for v, h in zip(d, high, strict=True)][::-1],
                "arrayminus": [round(v - lo, 3) for v, lo in zip(d, low, strict=True)][::-1],
                "color": ACCENT,
            },
            "marker": {"color": ACCENT, "size": 9},
            "name": "Cohen's d",
            "hovertemplate": "%{y}: d = %{x}<extra></extra>",
        }
    ]
    return base_figure(
        data,
        height=height or 90 + 30 * max(1, len(labels)),
        xaxis=chart_axis(title={"text": "Cohen's d (95% CI)"}),
        yaxis=chart_axis(automargin=True, type="category"),
        margin={"l": 16, "r": 16, "t": 16, "b": 48},
    )
