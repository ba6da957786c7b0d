"""Celery entry points for engagement: thin, they take ids and call one service."""

from celery import shared_task

from engagement.services.alerts import alerts_evaluate
from engagement.services.profiles import profiles_refresh
from engagement.services.scoring import scoring_run_execute, scoring_run_start


@shared_task(name="engagement.score_all")
def score_all() -> int:
    """Start tonight's scoring run of every learner; return the run id."""
    return scoring_run_start(execute_now=True).pk


@shared_task(name="engagement.execute_scoring_run", acks_late=True)
def execute_scoring_run(run_id: int) -> int:
    """Execute a pending scoring run (from the dashboard's "Recalculate all"); return its id."""
    run = scoring_run_execute(run_id=run_id)
    return run.pk if run else 0


@shared_task(name="engagement.evaluate_alerts")
def evaluate_alerts() -> int:
    """Evaluate every active alert rule; return how many alerts were raised."""
    return alerts_evaluate()


@shared_task(name="engagement.refresh_profiles")
def refresh_profiles() -> int:
    """Refresh every active learner's personalization profile; return how many."""
    return profiles_refresh()
