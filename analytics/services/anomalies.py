"""The nightly anomaly scan: stores the anomalies of the latest days of the aggregates."""

from __future__ import annotations

import datetime

from analytics.models import Anomaly, DailyAggregate
from analytics.selectors.aggregates import daily_series
from analytics.services.trends import find_anomalies
from learning.models import Course

SCANNED_METRICS = ("dau", "events", "enrollments")
HISTORY = datetime.timedelta(days=63)
RECENT = datetime.timedelta(days=7)


def anomalies_detect(end: datetime.date | None = None) -> list[Anomaly]:
    """Scan the platform and every course with aggregates for anomalies in the 7 days to `end`
    (the latest aggregated day by default) and upsert them; return the rows found."""
    if end is None:
        end = DailyAggregate.objects.order_by("-day").values_list("day", flat=True).first()
        if end is None:
            return []
    start = end - HISTORY
    course_ids = (
        DailyAggregate.objects.filter(day__gte=start, course__isnull=False)
        .values_list("course_id", flat=True)
        .distinct()
    )
    scopes: list[Course | None] = [None, *Course.objects.filter(id__in=course_ids)]
    stored = []
    for course in scopes:
        rows = daily_series(start, end, course=course)
        for metric in SCANNED_METRICS:
            series = [(r.day, float(getattr(r, metric))) for r in rows]
            for found in find_anomalies(series):
                if found.day <= end - RECENT:
                    continue
                row, _ = Anomaly.objects.update_or_create(
                    day=found.day,
                    course=course,
                    metric=metric,
                    defaults={
                        "value": found.value,
                        "baseline": found.baseline,
                        "score": found.score,
                    },
                )
                stored.append(row)
    return stored
