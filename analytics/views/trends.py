"""The trends page: one metric's series with moving averages, trend line and anomalies."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required
from analytics.selectors.trends import trends as trends_data
from analytics.services.trends import DEFAULT_METRIC, METRICS
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from engagement.charts import figure_html

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
CSV_HEADER = ["date", "value", "ma7", "ma28", "anomaly_score", "anomaly"]


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
