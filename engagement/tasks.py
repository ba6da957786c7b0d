"""Celery entry points for engagement: thin, they take ids and call one service."""

from celery import Task, shared_task

from engagement.selectors.dashboard import scoring_run_get
from engagement.services.alerts import alerts_evaluate
from engagement.services.profiles import profiles_refresh
from engagement.services.scoring import (
    STALE_RUN,
    UNFINISHED,
    scoring_run_execute,
    scoring_run_start,
)

# A run that another worker holds is looked at again this often, until it has finished or has
# been left running long enough (STALE_RUN) to be taken over.
BUSY_RUN_RETRY = 15 * 60
BUSY_RUN_RETRIES = int(STALE_RUN.total_seconds() // BUSY_RUN_RETRY) + 2


@shared_task(
    name="engagement.score_all",
    bind=True,
    max_retries=BUSY_RUN_RETRIES,
    default_retry_delay=BUSY_RUN_RETRY,
)
def score_all(self: Task) -> int:
    """Score every active enrolment as of today, once per day; return the run id.

    A redelivered task (acks_late) finds the day's run: done, it is reused; under way in
    another worker, it is waited for (retry) rather than started again.
    """
    run = scoring_run_start(execute_now=True, reuse_done=True)
    if run.status in UNFINISHED:
        raise self.retry()
    return run.pk


@shared_task(
    name="engagement.execute_scoring_run",
    bind=True,
    acks_late=True,
    max_retries=BUSY_RUN_RETRIES,
    default_retry_delay=BUSY_RUN_RETRY,
)
def execute_scoring_run(self: Task, run_id: int) -> int:
    """Execute a pending scoring run (from the dashboard's "Recalculate all"); return its id.

    Returns 0 when it executed nothing: the run had finished or is gone. A run another
    worker holds is waited for (retry), so that one whose worker was lost is taken over once
    stale rather than left running for ever.
    """
    run = scoring_run_execute(run_id=run_id)
    if run is None:
        held = scoring_run_get(run_id=run_id)
        if held is not None and held.status in UNFINISHED:
            raise self.retry()
        return 0
    return run.pk


@shared_task(name="engagement.evaluate_alerts")
def evaluate_alerts() -> int:
    """Evaluate every active alert rule; return how many alerts were raised."""
    return alerts_evaluate()


@shared_task(name="engagement.refresh_profiles")
def refresh_profiles() -> int:
    """Refresh every active learner's personalization profile; return how many."""
    return profiles_refresh()
