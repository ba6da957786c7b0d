"""The stored outcomes of an experiment's exposed learners (ExposureOutcome), kept so that
results over a million exposures read a row per learner instead of probing ten million events.

`outcomes_refresh` brings one experiment's store up to date: all of it when there is none yet
or the metrics changed, otherwise only the learners with an exposure recorded or an event
received since the watermark (less OUTCOMES_OVERLAP, for transactions that commit late). A
learner's row is recomputed whole from their events, never incremented, so a refresh that
runs twice, or overlaps another, stores the same figures. Beat runs it every minute over the
experiments that have started (`campaigns.refresh_experiment_outcomes`); the results never
wait for it, since they compute live whoever changed after the watermark."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Experiment, ExperimentOutcomes, ExposureOutcome
from campaigns.selectors.experiments import (
    OUTCOMES_OVERLAP,
    changed_cte,
    live_outcomes_ctes,
    outcome_signature,
)


def outcomes_refresh(*, experiment: Experiment) -> ExperimentOutcomes:
    """Bring the experiment's stored outcomes up to date; answers the store's state (as it
    was, if another refresh of it is running)."""
    ExperimentOutcomes.objects.get_or_create(experiment=experiment)
    started = time.perf_counter()
    with transaction.atomic():
        # One refresh of an experiment at a time: while one runs, another has nothing to add
        # and leaves at once (on SQLite, writes are serialised anyway).
        store = (
            ExperimentOutcomes.objects.select_for_update(skip_locked=True)
            .filter(experiment=experiment)
            .first()
        )
        if store is None:
            return ExperimentOutcomes.objects.get(experiment=experiment)
        mark = timezone.now()
        signature = outcome_signature(experiment)
        whole = store.through is None or store.signature != signature
        table = ExposureOutcome._meta.db_table
        params: list = []
        ctes = []
        if whole:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE experiment_id = %s", [experiment.pk])
        else:
            ctes.append(changed_cte(experiment, store.through - OUTCOMES_OVERLAP, params))
        metrics = experiment.metrics
        ctes.append(live_outcomes_ctes(experiment, metrics, params, changed=not whole))
        array = "jsonb_build_array" if connection.vendor == "postgresql" else "json_array"
        values = ", ".join(f"y{i}" for i in range(len(metrics)))
        params.append(experiment.pk)
        with_ = ",\n        ".join(ctes)
        # (WHERE true: SQLite would read the ON of the upsert as a join's without it)
        sql = f"""
            WITH {with_}
            INSERT INTO {table} (experiment_id, user_id, variant, exposed_at, multiple,
                                 covariate, metric_values)
            SELECT %s, user_id, variant, exposed_at, multiple, x0, {array}({values})
            FROM live WHERE true
            ON CONFLICT (experiment_id, user_id) DO UPDATE SET
                variant = excluded.variant, exposed_at = excluded.exposed_at,
                multiple = excluded.multiple, covariate = excluded.covariate,
                metric_values = excluded.metric_values
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        store.signature = signature
        store.through = mark
        store.learners = ExposureOutcome.objects.filter(experiment=experiment).count()
        store.refreshed_at = timezone.now()
        store.seconds = round(time.perf_counter() - started, 3)
        store.save()
    return store


def outcomes_refresh_started() -> int:
    """Refresh every experiment that has started (running or stopped: late events still
    arrive for a stopped one). Answers how many."""
    experiments = Experiment.objects.exclude(status=Experiment.Status.DRAFT).order_by("pk")
    count = 0
    for experiment in experiments:
        outcomes_refresh(experiment=experiment)
        count += 1
    return count
