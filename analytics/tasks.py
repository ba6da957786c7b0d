"""Celery entry points for analytics: thin, they call one service."""

import datetime

from celery import shared_task

from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import ingestion_hours_count
from analytics.services.insights import weekly_insights_write
from analytics.services.nightly import analytics_derive
from analytics.services.no_show import no_show_model_train, no_shows_predict
from analytics.services.performers import performers_compute
from analytics.services.reports import reports_send


@shared_task(name="analytics.refresh")
def refresh() -> int:
    """Recompute the daily aggregates of the days changed since the last refresh; return how
    many days (0 when another refresh is under way)."""
    run = aggregates_refresh()
    return run.days if run is not None else 0


@shared_task(name="analytics.derive")
def derive() -> int:
    """Recompute what reads the aggregates (funnels, anomalies and their alerts, retention
    cohorts, forecasts, the first-week analysis); return how many forecasts were stored."""
    return analytics_derive().forecasts


@shared_task(name="analytics.count_ingestion")
def count_ingestion() -> int:
    """Count the events received in the closed hours of the last day not counted yet."""
    return ingestion_hours_count()


@shared_task(name="analytics.send_reports", bind=True, max_retries=3, default_retry_delay=15 * 60)
def send_reports(self, kind: str) -> int:
    """Email staff report `kind` to the staff who chose it and have not had it; return how
    many were sent. Failed sends are recorded and retried (by this task a few times, then by
    the next scheduled run)."""
    outcome = reports_send(kind)
    if outcome.failed:
        raise self.retry()
    return outcome.sent


@shared_task(name="analytics.performers")
def performers() -> int:
    """Store every course's, all learners' and all instructors' star performers; return how
    many scopes."""
    return performers_compute().runs


@shared_task(name="analytics.weekly_insights")
def weekly_insights(week: str | None = None) -> int:
    """Write the insights of the week containing `week` (YYYY-MM-DD; by default the week just
    ended); return how many findings they hold."""
    day = datetime.date.fromisoformat(week) if week else None
    return weekly_insights_write(week=day).findings


@shared_task(name="analytics.predict_no_shows")
def predict_no_shows() -> int:
    """Predict the no-shows of the next 48 hours' live sessions; return how many predicted."""
    return no_shows_predict().predicted


@shared_task(name="analytics.train_no_show_model")
def train_no_show_model() -> bool:
    """Retrain the no-show model on the past sessions; return whether it is used."""
    return no_show_model_train().in_use
