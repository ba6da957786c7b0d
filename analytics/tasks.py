"""Celery entry points for analytics: thin, they call one service."""

from celery import shared_task

from analytics.services.aggregates import aggregates_refresh
from analytics.services.funnels import funnels_compute


@shared_task(name="analytics.refresh")
def refresh() -> int:
    """Recompute the daily aggregates of the days changed since the last refresh; return how
    many days (0 when another refresh is under way). The funnels are recomputed after the
    aggregates."""
    run = aggregates_refresh()
    if run is not None:
        funnels_compute()
    return run.days if run is not None else 0
