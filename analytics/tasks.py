"""Celery entry points for analytics: thin, they call one service."""

from celery import shared_task

from analytics.services.aggregates import aggregates_refresh
from analytics.services.anomalies import anomalies_detect


@shared_task(name="analytics.refresh")
def refresh() -> int:
    """Recompute the daily aggregates of the days changed since the last refresh; return how
    many days (0 when another refresh is under way). Then store the latest days' anomalies."""
    run = aggregates_refresh()
    if run is None:
        return 0
    anomalies_detect()
    return run.days
