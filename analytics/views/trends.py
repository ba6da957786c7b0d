"""The trends page: one metric's series with moving averages, trend line and anomalies, and
the stored 30-day forecasts with their prediction intervals and backtest."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required
from analytics.forms import Selection
from analytics.models import Forecast
from analytics.selectors.forecasts import (
    ForecastChoice,
    forecast_choices,
    forecast_get,
    forecast_history,
)
from analytics.selectors.trends import trends as trends_data
from analytics.services.trends import DEFAULT_METRIC, METRICS
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from engagement.charts import figure_html

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
CSV_HEADER = ["date", "value", "ma7", "ma28", "anomaly_score", "anomaly"]
FORECAST_CSV_HEADER = ["date", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]


def _forecast_choice(
    request: HttpRequest, choices: list[ForecastChoice]
) -> tuple[ForecastChoice, bool]:
    """The picked forecast (?forecast=dau|enrollments|revenue:EUR) and whether the pick was
    unknown (then DAU is shown)."""
    key = request.GET.get("forecast") or choices[0].key
    picked = next((c for c in choices if c.key == key), None)
    return (picked, False) if picked else (choices[0], True)


def _forecast_context(
    selection: Selection, choices: list[ForecastChoice], choice: ForecastChoice, unknown: bool
) -> dict[str, Any]:
    """The forecasts section: the stored forecast picked, its chart and its CSV link."""
    stored = forecast_get(metric=choice.metric, course=selection.course, currency=choice.currency)
    chart = None
    if stored is not None and stored.has_forecast:
        chart = figure_html(
            charts.forecast_figure(forecast_history(stored), stored.points, y_title=choice.label),
            div_id="forecast",
        )
    return {
        "forecast": stored,
        "forecast_choice": choice,
        "forecast_choices": choices,
        "unknown_forecast": unknown,
        "forecast_chart": chart,
        "forecast_rows": [
            {**p, "day": datetime.date.fromisoformat(p["date"])}
            for p in (stored.points if stored is not None else [])
        ],
        "forecast_csv_query": selection.query(format="csv", table="forecast", forecast=choice.key),
    }


def _forecast_csv(choice: ForecastChoice, stored: Forecast | None) -> HttpResponse:
    points = stored.points if stored is not None else []
    origin = stored.origin.isoformat() if stored is not None else "none"
    return csv_response(
        f"analytics-forecast-{choice.key.replace(':', '-')}-{origin}.csv",
        FORECAST_CSV_HEADER,
        (
            [
                p["date"],
                rounded(p["mean"]),
                rounded(p["lower_80"]),
                rounded(p["upper_80"]),
                rounded(p["lower_95"]),
                rounded(p["upper_95"]),
            ]
            for p in points
        ),
    )


@require_GET
@analytics_required()
def trends(request: HttpRequest) -> HttpResponse:
    """Staff see the platform or one course; instructors one of their own courses."""
    metric = request.GET.get("metric") or DEFAULT_METRIC
    unknown_metric = metric not in METRICS
    if unknown_metric:
        metric = DEFAULT_METRIC
    context = page_context(request, "analytics:trends")
    selection = context["selection"]
    choices = forecast_choices(course=selection.course)
    choice, unknown_forecast = _forecast_choice(request, choices)
    if wants_csv(request) and request.GET.get("table") == "forecast":
        stored = forecast_get(
            metric=choice.metric, course=selection.course, currency=choice.currency
        )
        return _forecast_csv(choice, stored)
    data = trends_data(selection.start, selection.end, metric=metric, course=selection.course)
    if wants_csv(request):
        return csv_response(
            f"analytics-trends-{metric}-{selection.start}-{selection.end}.csv",
            CSV_HEADER,
            (
                [
                    r.day.isoformat(),
                    r.value,
                    rounded(r.ma7),
                    rounded(r.ma28),
                    rounded(r.score),
                    "yes" if r.anomaly else "",
                ]
                for r in data.rows
            ),
        )
    days = [r.day for r in data.rows]
    trend = data.trend
    context.update(_forecast_context(selection, choices, choice, unknown_forecast))
    context.update(
        data=data,
        csv_query=selection.query(format="csv", metric=metric),
        metric=metric,
        metrics=METRICS,
        unknown_metric=unknown_metric,
        weekdays=list(zip(WEEKDAYS, data.weekdays, strict=True)),
        trend_chart=figure_html(
            charts.trends_figure(
                days,
                [r.value for r in data.rows],
                [
                    ("7-day average", [r.ma7 for r in data.rows]),
                    ("28-day average", [r.ma28 for r in data.rows]),
                ],
                fitted=trend.fitted if trend else None,
                lower=trend.lower if trend else None,
                upper=trend.upper if trend else None,
                anomalies=[(a.day, a.value) for a in data.anomalies],
                y_title=metric.upper() if metric in ("dau", "wau", "mau") else metric,
            ),
            div_id="trend",
        ),
        weekday_chart=figure_html(
            charts.weekday_figure(WEEKDAYS, data.weekdays),
            div_id="weekdays",
        ),
    )
    return render(request, "analytics/trends.html", context)
