"""The nightly anomaly scan: stores the anomalies of the latest days of the aggregates."""

from __future__ import annotations

import datetime

from analytics.models import Anomaly, DailyAggregate
from analytics.selectors.aggregates import daily_series_by_scope
from analytics.services.aggregates import latest_complete_day
from analytics.services.trends import find_anomalies

SCANNED_METRICS = ("dau", "events", "enrollments")
HISTORY = datetime.timedelta(days=63)
RECENT = datetime.timedelta(days=7)


def anomalies_detect(end: datetime.date | None = None) -> list[Anomaly]:
    """Scan the platform and every course with aggregates (read in one query) for anomalies
    in the 7 days to `end` (by default the latest aggregated day that has ended for every
    learner) and upsert them; return the
    rows found."""
    if end is None:
        last = DailyAggregate.objects.order_by("-day").values_list("day", flat=True).first()
        if last is None:
            return []
        # Today is still under way: its low counts are no anomaly.
        end = min(last, latest_complete_day())
    stored = []
    for course_id, rows in daily_series_by_scope(end - HISTORY, end).items():
        for metric in SCANNED_METRICS:
            series = [(r.day, float(getattr(r, metric))) for r in rows]
            for found in find_anomalies(series):
                if found.day <= end - RECENT:
                    continue
                # One row per day, scope and metric (a partial unique index for the platform's,
                # which bulk upserts cannot name): few a night, each upserted.
                row, _ = Anomaly.objects.update_or_create(
                    day=found.day,
                    course_id=course_id,
                    metric=metric,
                    defaults={
                        "value": found.value,
                        "baseline": found.baseline,
                        "score": found.score,
                    },
                )
                stored.append(row)
    return stored
