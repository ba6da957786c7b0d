"""Celery entry points for analytics: thin, they call one service."""

import datetime

from celery import shared_task

from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import ingestion_hours_count
from analytics.services.insights import weekly_insights_write
from analytics.services.nightly import analytics_derive


@shared_task(name="analytics.refresh")
def refresh() -> int:
    """Recompute the daily aggregates of the days changed since the last refresh; return how
    many days (0 when another refresh is under way)."""
    run = aggregates_refresh()
    return run.days if run is not None else 0


@shared_task(name="analytics.derive")
def derive() -> int:
    """Recompute what reads the aggregates (funnels, anomalies and their alerts, retention
    cohorts, forecasts); return how many forecasts were stored."""
    return analytics_derive().forecasts


@shared_task(name="analytics.count_ingestion")
def count_ingestion() -> int:
    """Count the events received in the closed hours of the last day not counted yet."""
    return ingestion_hours_count()


@shared_task(name="analytics.weekly_insights")
def weekly_insights(week: str | None = None) -> int:
    """Write the insights of the week containing `week` (YYYY-MM-DD; by default the week just
    ended); return how many findings they hold."""
    day = datetime.date.fromisoformat(week) if week else None
    return weekly_insights_write(week=day).findings
