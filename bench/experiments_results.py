"""Benchmark experiments: the results of an experiment with 1,000,000 exposures and
10,000,000 events, on PostgreSQL.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/experiments_results.py [--exposures 1000000] [--events 10000000]

It (re)creates its own database, `stride_bench_experiments`, migrates it, COPies in one learner
per exposure, a running two-variant experiment with their exposures over the last three
weeks, and `--events` behaviour events spread over the learners and the last five weeks
(`lesson_completed` among them), then ANALYZEs and times `experiment_results` (the primary
metric "lesson_completed within 7 days" with CUPED's pre-exposure covariate, the sample
ratio check, the learners exposed twice, every test and the decision rule), three times.

Target: under 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from _setup import copy_learners, copy_rows, recreate_database

DB = "stride_bench_experiments"
TYPES = ("lesson_completed", "lesson_started", "video_progress", "quiz_submitted", "login")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exposures", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432/postgres")
    os.environ["DATABASE_URL"] = recreate_database(base, DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from campaigns.models import Experiment
    from campaigns.selectors.experiments import experiment_results

    now = datetime.now(UTC)
    rng = random.Random(7)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        ids = copy_learners(cursor.cursor, args.exposures, now=now)
    experiment = Experiment.objects.create(
        key="bench",
        name="Bench",
        variants=[{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
        primary_metric={
            "kind": "binomial",
            "event": "lesson_completed",
            "window_days": 7,
            "name": "lesson_completed in 7 d",
        },
        status=Experiment.Status.RUNNING,
        started_at=now - timedelta(days=21),
    )
    exposed = {}
    with connection.cursor() as cursor:
        rows = []
        for user_id in ids:
            at = now - timedelta(seconds=rng.uniform(0, 21 * 86400))
            exposed[user_id] = at
            rows.append(
                (
                    experiment.pk,
                    user_id,
                    (rng.choice("cb") == "b" and "b") or "control",
                    at,
                    "assignment",
                )
            )
        copy_rows(
            cursor.cursor,
            "campaigns_exposure",
            ["experiment_id", "user_id", "variant", "exposed_at", "source"],
            rows,
        )
        per_user = args.events // len(ids)
        copy_rows(
            cursor.cursor,
            "engagement_event",
            [
                "source",
                "client_id",
                "type",
                "user_id",
                "occurred_at",
                "received_at",
                "session_id",
                "device",
                "platform",
                "properties",
            ],
            (
                (
                    "bench",
                    f"{user_id}-{k}",
                    TYPES[(user_id + k) % len(TYPES)],
                    user_id,
                    now - timedelta(seconds=rng.uniform(0, 35 * 86400)),
                    now,
                    "",
                    "",
                    "",
                    "{}",
                )
                for user_id in ids
                for k in range(per_user)
            ),
        )
        cursor.execute("ANALYZE")
    print(
        f"{len(ids):,} exposures and {per_user * len(ids):,} events loaded in "
        f"{time.perf_counter() - started:.0f} s"
    )

    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        results = experiment_results(experiment=experiment)
        timings.append(time.perf_counter() - t0)
    control, treatment = results.primary.variants
    print(
        f"experiment_results: median {statistics.median(timings):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in timings)}; target < 2 s)"
    )
    print(
        f"  users {results.users}, conversions {control['conversions']:,} / "
        f"{treatment['conversions']:,}, uplift {treatment['uplift']:+.3%}, "
        f"p {treatment['p_value']:.3f}, "
        f"SRM p {results.srm_p_value:.3f}, decision {results.decision_status}"
    )
    print(
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
