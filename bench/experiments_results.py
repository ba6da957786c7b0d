"""Benchmark experiments: the results of an experiment with 1,000,000 exposures and
10,000,000 events, on PostgreSQL.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/experiments_results.py [--exposures 1000000] [--events 10000000]

It (re)creates its own database, `stride_bench_experiments`, migrates it, COPies in one learner
per exposure, a running two-variant experiment with their exposures over the last three
weeks (recorded as they happened), and `--events` behaviour events spread over the learners
and the last five weeks (`lesson_completed` among them, each received two minutes after it
happened), then ANALYZEs and times `experiment_results` (the primary metric
"lesson_completed within 7 days" with CUPED's pre-exposure covariate, the sample ratio check,
the learners exposed twice, every test and the decision rule):

1. with no stored outcomes: every learner computed live from their events (the plain way);
2. the stored outcomes built whole (`outcomes_refresh`, what beat does first);
3. a minute of news (its share of the events and exposures, and 50 late events), then the
   results, three times, as a page reads them between two refreshes of beat: the stored rows,
   and live whoever has anything received in the last 11 minutes;
4. the refresh beat then runs.

Target: under 2 s (3).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
from _setup import EVENT_COLUMNS, copy_learners, copy_rows, recreate_database

DB = "stride_bench_experiments"
TYPES = ("lesson_completed", "lesson_started", "video_progress", "quiz_submitted", "login")


def event(client_id: str, user_id: int, type_: str, at: datetime, received: datetime) -> tuple:
    return ("bench", client_id, type_, user_id, at, received, "", "", "", "{}")


def history(ids: list[int], per_user: int, now: datetime, rng: random.Random) -> Iterator[tuple]:
    """`per_user` events per learner over the last five weeks, each received two minutes
    after it happened (a live sender's delay), in the order they were received: the table
    grows as ingestion appends to it, which the BRIN index on received_at relies on."""
    users = np.repeat(np.asarray(ids, dtype=np.int64), per_user)
    kth = np.tile(np.arange(per_user), len(ids))
    ago = np.random.default_rng(rng.randrange(2**32)).uniform(0, 35 * 86400, len(users))
    for i in np.argsort(-ago, kind="stable"):
        at = now - timedelta(seconds=float(ago[i]))
        received = min(now, at + timedelta(minutes=2))
        user_id, k = int(users[i]), int(kth[i])
        yield event(f"{user_id}-{k}", user_id, TYPES[(user_id + k) % len(TYPES)], at, received)


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
    from campaigns.services.experiment_outcomes import outcomes_refresh

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
    with connection.cursor() as cursor:
        rows = []
        for user_id in ids:
            at = now - timedelta(seconds=rng.uniform(0, 21 * 86400))
            rows.append(
                (
                    experiment.pk,
                    user_id,
                    (rng.choice("cb") == "b" and "b") or "control",
                    at,
                    "assignment",
                    at,
                )
            )
        copy_rows(
            cursor.cursor,
            "campaigns_exposure",
            ["experiment_id", "user_id", "variant", "exposed_at", "source", "recorded_at"],
            rows,
        )
        per_user = args.events // len(ids)
        copy_rows(
            cursor.cursor, "engagement_event", EVENT_COLUMNS, history(ids, per_user, now, rng)
        )
        cursor.execute("ANALYZE")
    print(
        f"{len(ids):,} exposures and {per_user * len(ids):,} events loaded in "
        f"{time.perf_counter() - started:.0f} s"
    )

    t0 = time.perf_counter()
    results = experiment_results(experiment=experiment)
    plain = time.perf_counter() - t0
    print(f"1. experiment_results with every learner computed live: {plain:.2f} s")

    t0 = time.perf_counter()
    store = outcomes_refresh(experiment=experiment)
    print(
        f"2. stored outcomes built whole: {time.perf_counter() - t0:.2f} s "
        f"({store.learners:,} learners)"
    )

    # A minute of news: its share of the events (and of the exposures), and 50 late events.
    news_at = datetime.now(UTC)
    minute = max(1, args.events // (35 * 1440))
    exposures_minute = max(1, args.exposures // (21 * 1440))
    with connection.cursor() as cursor:
        fresh = copy_learners(
            cursor.cursor, exposures_minute, now=news_at, domain="news.example", prefix="news"
        )
        copy_rows(
            cursor.cursor,
            "campaigns_exposure",
            ["experiment_id", "user_id", "variant", "exposed_at", "source"],
            ((experiment.pk, user_id, "b", news_at, "assignment") for user_id in fresh),
        )
        copy_rows(
            cursor.cursor,
            "engagement_event",
            EVENT_COLUMNS,
            (
                event(
                    f"news-{k}",
                    rng.choice(ids),
                    TYPES[k % len(TYPES)],
                    news_at - timedelta(seconds=rng.uniform(0, 60 if k < minute else 5 * 86400)),
                    news_at,
                )
                for k in range(minute + 50)
            ),
        )
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        results = experiment_results(experiment=experiment)
        timings.append(time.perf_counter() - t0)
    control, treatment = results.primary.variants
    median = statistics.median(timings)
    print(
        f"3. after a minute of news ({minute:,} events, {exposures_minute:,} exposures, 50 late"
        f" events), experiment_results: median {median:.2f} s (runs: "
        f"{', '.join(f'{t:.2f}' for t in timings)}; target < 2 s: "
        f"{'OK' if median < 2 else 'NOT MET'}); {plain / median:.1f}x faster than live"
    )
    print(
        f"  users {results.users}, conversions {control['conversions']:,} / "
        f"{treatment['conversions']:,}, uplift {treatment['uplift']:+.3%}, "
        f"p {treatment['p_value']:.3f}, "
        f"SRM p {results.srm_p_value:.3f}, decision {results.decision_status}"
    )
    t0 = time.perf_counter()
    outcomes_refresh(experiment=experiment)
    print(f"4. beat's refresh after that minute: {time.perf_counter() - t0:.2f} s")
    print(
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
