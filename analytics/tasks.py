"""Celery entry points for analytics: thin, they call one service."""

from celery import shared_task

from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import ingestion_hours_count
from analytics.services.nightly import analytics_derive
from analytics.services.no_show import no_show_model_train, no_shows_predict


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


@shared_task(name="analytics.predict_no_shows")
def predict_no_shows() -> int:
    """Predict the no-shows of the next 48 hours' live sessions; return how many predicted."""
    return no_shows_predict().predicted


@shared_task(name="analytics.train_no_show_model")
def train_no_show_model() -> bool:
    """Retrain the no-show model on the past sessions; return whether it is used."""
    return no_show_model_train().in_use
