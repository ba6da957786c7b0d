"""The trends page's figures: one metric's daily series over a range, its moving averages,
trend line, weekday profile and anomalies, all from the stored daily aggregates."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from analytics.selectors.aggregates import daily_series
from analytics.services.trends import (
    Anomaly,
    LinearTrend,
    anomaly_scores,
    find_anomalies,
    linear_trend,
    moving_average,
    weekday_profile,
)
from learning.models import Course

# Days read before the range so the 28-day average and the same-weekday baselines start
# on the range's first day.
LEAD_IN = datetime.timedelta(days=35)


@dataclass(frozen=True)
class TrendRow:
    day: datetime.date
    value: float
    ma7: float | None
    ma28: float | None
    score: float | None
    anomaly: bool


@dataclass(frozen=True)
class Trends:
    metric: str
    rows: list[TrendRow]
    trend: LinearTrend | None
    weekdays: list[float | None]
    anomalies: list[Anomaly]

    @property
    def has_activity(self) -> bool:
        return any(r.value for r in self.rows)


def trends(
    start: datetime.date, end: datetime.date, *, metric: str, course: Course | None = None
) -> Trends:
    rows = daily_series(start - LEAD_IN, end, course=course)
    series = [(r.day, float(getattr(r, metric))) for r in rows]
    values = [v for _, v in series]
    ma7 = moving_average(values, 7)
    ma28 = moving_average(values, 28)
    anomalies = [a for a in find_anomalies(series) if a.day >= start]
    flagged = {a.day: a for a in anomalies}
    scores = anomaly_scores(series)
    lead = len(series) - ((end - start).days + 1)
    out = [
        TrendRow(day, value, ma7[i], ma28[i], scores[i], day in flagged)
        for i, (day, value) in enumerate(series)
        if i >= lead
    ]
    in_range = series[lead:]
    return Trends(
        metric=metric,
        rows=out,
        trend=linear_trend([v for _, v in in_range]),
        weekdays=weekday_profile(in_range),
        anomalies=anomalies,
    )
