"""Celery entry points for campaigns: thin, idempotent, safe to redeliver (the services claim
their work with SKIP LOCKED and record it in the transaction that does it)."""

from celery import shared_task

from campaigns.services.dispatch import campaigns_dispatch_due, chunk_run
from campaigns.services.experiment_outcomes import outcomes_refresh_started
from campaigns.services.experiments import experiments_decide_running


@shared_task(name="campaigns.dispatch_due")
def dispatch_due() -> dict[str, int]:
    """Everything due this minute: new runs, runs to start, lost chunks, drip steps."""
    return campaigns_dispatch_due()


@shared_task(name="campaigns.run_chunk")
def run_chunk(chunk_id: int) -> int | None:
    """Queue one chunk of a run's messages (None: another worker has it, or it is done)."""
    return chunk_run(chunk_id=chunk_id)


@shared_task(name="campaigns.experiments_decide")
def experiments_decide() -> int:
    """The auto-winner rule over the running experiments that have it on."""
    return experiments_decide_running()


@shared_task(name="campaigns.refresh_experiment_outcomes")
def refresh_experiment_outcomes() -> int:
    """Bring the stored outcomes of every started experiment up to date."""
    return outcomes_refresh_started()
