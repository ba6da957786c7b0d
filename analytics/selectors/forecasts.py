"""Reading what the forecasts are made from (the stored daily aggregates and revenue) and the
stored forecasts themselves, for the nightly run, the trends page and the API."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from analytics.models import DailyRevenue, Forecast
from analytics.selectors.aggregates import daily_series, daily_series_by_scope
from learning.models import Course

DAY = datetime.timedelta(days=1)
AGGREGATE_METRICS = (Forecast.Metric.DAU, Forecast.Metric.ENROLLMENTS)

Series = list[tuple[datetime.date, float]]
# (metric, course id or None for the platform, currency or "")
SeriesKey = tuple[str, int | None, str]


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + i * DAY for i in range((end - start).days + 1)]


def forecast_histories(start: datetime.date, end: datetime.date) -> dict[SeriesKey, Series]:
    """Every scope's DAU and enrollments, and its revenue per currency, one value a day from
    the scope's first stored day on or after `start` to `end`, in two queries. A day without
    a stored row counts as zero; a scope's history starts at its first stored row, so a new
    course is not read as months of zeros."""
    out: dict[SeriesKey, Series] = {}
    for course_id, rows in daily_series_by_scope(start, end).items():
        stored = [i for i, row in enumerate(rows) if row.pk is not None]
        if not stored:
            continue
        kept = rows[stored[0] :]
        for metric in AGGREGATE_METRICS:
            out[(metric, course_id, "")] = [(r.day, float(getattr(r, metric))) for r in kept]
    amounts: dict[tuple[int | None, str], dict[datetime.date, float]] = defaultdict(dict)
    # Instructors' rows are not forecast (a course's and the platform's are).
    revenue = DailyRevenue.objects.filter(
        day__gte=start, day__lte=end, instructor__isnull=True
    ).order_by()
    for course_id, currency, day, amount in revenue.values_list(
        "course_id", "currency", "day", "amount"
    ):
        amounts[(course_id, currency)][day] = float(amount)
    for (course_id, currency), by_day in amounts.items():
        days = _days(min(by_day), end)
        out[(Forecast.Metric.REVENUE, course_id, currency)] = [
            (day, by_day.get(day, 0.0)) for day in days
        ]
    return out


def forecast_get(
    *, metric: str, course: Course | None = None, currency: str = ""
) -> Forecast | None:
    """The latest stored forecast of `metric` (in `currency`, for revenue) for the platform or
    `course`, in one query; None before the nightly run has made one."""
    rows = Forecast.objects.filter(metric=metric, currency=currency)
    rows = rows.filter(course=course) if course is not None else rows.filter(course__isnull=True)
    return rows.order_by("-origin").first()


@dataclass(frozen=True)
class ForecastChoice:
    """One entry of the forecasts' metric picker: `key` is what the page's ?forecast= holds."""

    key: str
    label: str
    metric: str
    currency: str


def forecast_choices(*, course: Course | None = None) -> list[ForecastChoice]:
    """DAU, enrollments, and revenue in each currency with a stored forecast (one query)."""
    choices = [
        ForecastChoice("dau", "DAU", Forecast.Metric.DAU, ""),
        ForecastChoice("enrollments", "Enrollments", Forecast.Metric.ENROLLMENTS, ""),
    ]
    choices += [
        ForecastChoice(f"revenue:{c}", f"Revenue ({c})", Forecast.Metric.REVENUE, c)
        for c in forecast_currencies(course=course)
    ]
    return choices


def forecast_currencies(*, course: Course | None = None) -> list[str]:
    """The currencies with a stored revenue forecast for the platform or `course` (one query)."""
    rows = Forecast.objects.filter(metric=Forecast.Metric.REVENUE)
    rows = rows.filter(course=course) if course is not None else rows.filter(course__isnull=True)
    return sorted(set(rows.values_list("currency", flat=True)))


def forecast_history(forecast: Forecast, *, days: int = 56) -> Series:
    """The actual values of the `days` days to the forecast's origin (one query), for drawing
    the history the forecast continues."""
    start = forecast.origin - (days - 1) * DAY
    if forecast.metric != Forecast.Metric.REVENUE:
        course = forecast.course if forecast.course_id else None
        rows = daily_series(start, forecast.origin, course=course)
        return [(r.day, float(getattr(r, forecast.metric))) for r in rows]
    rows = DailyRevenue.objects.filter(
        day__gte=start, day__lte=forecast.origin, currency=forecast.currency
    )
    rows = rows.filter(course_id=forecast.course_id) if forecast.course_id else rows.platform()
    by_day = dict(rows.values_list("day", "amount"))
    return [(day, float(by_day.get(day, 0))) for day in _days(start, forecast.origin)]
