"""Plotly figures for the interventions dashboard: pure functions of selector output, in the
engagement dashboard's style (engagement.charts), no queries."""

from __future__ import annotations

from collections.abc import Sequence

from engagement.charts import ACCENT, Figure, base_figure, chart_axis
from interventions.selectors.stats import DeliveryStats, TrendDay

FUNNEL_COLOURS = {"Opened": ACCENT, "Clicked": "#e0a526", "Converted": "#2e9e6a"}


def delivery_trend_figure(days: Sequence[TrendDay]) -> Figure:
    """Messages sent per day (bars) and how many of them were opened, clicked, converted."""
    x = [d.day.isoformat() for d in days]
    data = [
        {
            "type": "bar",
            "x": x,
            "y": [d.sent for d in days],
            "name": "Sent",
            "marker": {"color": "#c9d1db"},
            "hovertemplate": "%{x}: %{y} sent<extra></extra>",
        }
    ]
    for name, values in (
        ("Opened", [d.opened for d in days]),
        ("Clicked", [d.clicked for d in days]),
        ("Converted", [d.converted for d in days]),
    ):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": x,
                "y": values,
                "name": name,
                "line": {"color": FUNNEL_COLOURS[name], "width": 2},
                "hovertemplate": f"%{{x}}: %{{y}} {name.lower()}<extra></extra>",
            }
        )
    return base_figure(
        data,
        xaxis=chart_axis(type="date", tickformat="%d %b", dtick=86_400_000 * 7),
        yaxis=chart_axis(title={"text": "Messages"}, rangemode="nonnegative"),
        legend={"orientation": "h", "y": -0.2},
        barmode="overlay",
    )


def rates_figure(stats: Sequence[DeliveryStats]) -> Figure:
    """Open, click and conversion rate per template (grouped horizontal bars)."""
    labels = [s.label for s in stats]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": [round(100 * getattr(s, attr), 1) for s in stats],
            "name": name,
            "marker": {"color": FUNNEL_COLOURS[name]},
            "hovertemplate": f"%{{y}}: %{{x}}% {name.lower()}<extra></extra>",
        }
        for name, attr in (
            ("Opened", "open_rate"),
            ("Clicked", "click_rate"),
            ("Converted", "conversion_rate"),
        )
    ]
    return base_figure(
        data,
        height=max(220, 70 * len(stats) + 80),
        xaxis=chart_axis(ticksuffix="%", range=[0, 100]),
        yaxis=chart_axis(automargin=True, autorange="reversed"),
        # Below the plot (the axis has no title there): on a phone the legend wraps, and above
        # the plot it would cover the first bars.
        legend={"orientation": "h", "x": 0, "y": -0.08, "yanchor": "top"},
        barmode="group",
    )
