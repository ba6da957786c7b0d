"""Plotly figures for the video dashboard: pure functions of `VideoAnalytics`, no queries."""

from __future__ import annotations

from typing import Any

from video.selectors import VideoAnalytics

Figure = dict[str, Any]
ACCENT = "#2f6fde"
REWATCH = "#e0a526"
_LAYOUT = {
    "margin": {"l": 48, "r": 16, "t": 36, "b": 40},
    "height": 320,
    "font": {"family": 'system-ui, -apple-system, "Segoe UI", sans-serif', "size": 12},
    "plot_bgcolor": "#fff",
    "paper_bgcolor": "#fff",
}


def retention_figure(stats: VideoAnalytics) -> Figure:
    """Audience retention (share of views still watching) with re-watches on a second axis."""
    x = [round(i * stats.bucket_seconds, 1) for i in range(len(stats.retention))]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Still watching",
                "x": x,
                "y": [round(100 * v, 1) for v in stats.retention],
                "line": {"color": ACCENT, "shape": "hv"},
                "hovertemplate": "%{x} s: %{y}%<extra></extra>",
            },
            {
                "type": "bar",
                "name": "Re-watches",
                "x": x,
                "y": stats.rewatch_counts,
                "yaxis": "y2",
                "marker": {"color": REWATCH},
                "opacity": 0.5,
            },
        ],
        "layout": {
            **_LAYOUT,
            "title": {"text": "Audience retention"},
            "xaxis": {"title": {"text": "seconds into the video"}},
            "yaxis": {"title": {"text": "% of views"}, "range": [0, 105]},
            "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False},
            "legend": {"orientation": "h"},
        },
    }


def share_figure(shares: dict[str, float], title: str) -> Figure:
    """A horizontal bar per category: its share (speeds, qualities) or count (devices)."""
    labels = list(shares)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [shares[k] for k in labels],
                "y": labels,
                "marker": {"color": ACCENT},
            }
        ],
        "layout": {**_LAYOUT, "height": 220, "title": {"text": title}},
    }
