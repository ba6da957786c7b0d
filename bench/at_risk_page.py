"""Benchmark the staff at-risk dashboard and the at-risk API with 50,000 scored learners.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    DATABASE_URL=postgres://stride:stride@127.0.0.1:5432/stride \\
        .venv/bin/python bench/at_risk_page.py [--learners 50000] [--requests 20]

It (re)creates its own database, `stride_bench_at_risk` on the server of DATABASE_URL, migrates
it, loads N learners (COPY), 20 courses with one enrolment per learner and a second one for
SECOND_SHARE of them, and one finished scoring run with a score per enrolment (realistic
drivers with sentences, recommendations and the full signal blob; 5 % never started), runs VACUUM
ANALYZE, then times with Django's test client, signed in as staff, after 3 warm-up requests:
the dashboard page, the htmx list partial (threshold slider), the at-risk API (default and
with a course filter) and a learner page. It prints the median, p90 and minimum of
`--requests` requests, the queries per request and the plan of the list query.
Target: dashboard < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime

import numpy as np
from _setup import ROOT, copy_learners, copy_rows, recreate_database

BENCH_DB = "stride_bench_at_risk"
COURSES = 20
SECOND_SHARE = 0.4  # learners with a second enrolment (so a second score)


def load(n: int, seed: int = 7) -> dict[str, int]:
    """Write N learners, their enrolments and one finished run of a score per enrolment."""
    from django.db import connection

    from accounts.models import User
    from engagement.models import ScoringRun
    from engagement.scoring.signals import SIGNALS

    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    staff = User.objects.create_user(
        email="bench-staff@example.com", password="bench-pw-1234", is_staff=True, role="admin"
    )
    with connection.cursor() as wrapper:
        cur = wrapper.cursor  # the psycopg cursor, for COPY
        copy_rows(
            cur,
            "learning_course",
            ["external_id", "title", "description", "provisional", "created_at", "updated_at"],
            ((f"course-{c}", f"Course {c}", "", False, now, now) for c in range(COURSES)),
        )
        user_ids = copy_learners(cur, n, now=now)
        cur.execute("SELECT id FROM learning_course ORDER BY id")
        course_ids = [row[0] for row in cur.fetchall()]
        second = rng.random(n) < SECOND_SHARE
        enrolments = [(uid, course_ids[i % COURSES]) for i, uid in enumerate(user_ids)] + [
            (uid, course_ids[(i + 7) % COURSES]) for i, uid in enumerate(user_ids) if second[i]
        ]
        copy_rows(
            cur,
            "learning_enrollment",
            ["user_id", "course_id", "enrolled_at", "status", "provisional", "updated_at"],
            ((uid, cid, now, "active", False, now) for uid, cid in enrolments),
        )
    m = len(enrolments)

    run = ScoringRun.objects.create(
        as_of=date.today(),
        status=ScoringRun.Status.DONE,
        total=m,
        processed=m,
        started_at=now,
        finished_at=now,
    )
    risk = np.clip(rng.beta(2.0, 3.0, m) * 100, 0, 100).astype(int)
    never = rng.random(m) < 0.05
    names = [s.name for s in SIGNALS]
    labels = {s.name: s.description for s in SIGNALS}
    recs = [
        {"code": "reengage_email", "label": "Send a re-engagement email", "reason": "Inactive"},
        {"code": "tutor_call", "label": "Offer a tutor call", "reason": "Quiz scores falling"},
    ]
    signal_values = rng.random((m, len(names))) * 20

    def levels(r: int) -> str:
        return "critical" if r >= 80 else "high" if r >= 60 else "medium" if r >= 30 else "low"

    def score_rows():
        for i, (uid, cid) in enumerate(enrolments):
            r = int(risk[i])
            picks = rng.choice(len(names), 5, replace=False)
            drivers = [
                {
                    "signal": names[j],
                    "label": labels[names[j]],
                    "text": f"{labels[names[j]]}: {signal_values[i, j]:.1f} (typical: 5.0)",
                    "value": round(float(signal_values[i, j]), 3),
                    "contribution": round(float(8 - k * 3), 2),
                }
                for k, j in enumerate(picks)
            ]
            signals = dict(zip(names, np.round(signal_values[i], 3).tolist(), strict=True))
            yield (
                run.pk,
                uid,
                cid,
                bool(never[i]),
                run.as_of,
                now,
                r,
                int(r * 0.7),
                min(100, int(r * 1.2)),
                int(rng.integers(40, 95)),
                levels(r),
                json.dumps(drivers),
                json.dumps(recs),
                json.dumps(signals),
            )

    with connection.cursor() as wrapper:
        copy_rows(
            wrapper.cursor,
            "engagement_engagementscore",
            [
                "run_id",
                "user_id",
                "course_id",
                "never_started",
                "as_of",
                "scored_at",
                "drop_off_risk",
                "weekly_risk",
                "monthly_risk",
                "confidence",
                "level",
                "drivers",
                "recommendations",
                "signals",
            ],
            score_rows(),
        )
        # What autovacuum does after a large insert: statistics and the visibility map (which
        # lets the stats and histogram be index-only scans).
        wrapper.execute("VACUUM ANALYZE")
    return {
        "staff": staff.pk,
        "run": run.pk,
        "learner": user_ids[len(user_ids) // 2],
        "scores": m,
    }


def measure(client, url: str, repeats: int) -> tuple[list[float], int, int]:
    """Warm up, then time `repeats` GETs; return durations (ms), queries and the status."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return times, queries, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database).")
    os.environ["DATABASE_URL"] = recreate_database(url, BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from engagement.selectors.dashboard import at_risk_list, scoring_run_current

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    ids = load(args.learners)
    print(
        f"loaded {args.learners:,} learners + {ids['scores']:,} enrolment scores in "
        f"{time.perf_counter() - started:.1f} s"
    )
    cache.clear()

    # No setup_test_environment(): its instrumented template rendering would inflate the
    # figures; a host from ALLOWED_HOSTS lets the client in instead.
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(pk=ids["staff"]))
    pages = [
        ("dashboard page", "/dashboard/engagement/"),
        ("list partial (threshold 40)", "/dashboard/engagement/at-risk/?threshold=40&page=3"),
        (
            "list partial (course, high)",
            "/dashboard/engagement/at-risk/?course=course-3&level=high",
        ),
        ("API at-risk (defaults)", "/api/v1/engagement/at-risk/"),
        ("API at-risk (limit 500)", "/api/v1/engagement/at-risk/?threshold=0&limit=500"),
        ("API at-risk (course)", "/api/v1/engagement/at-risk/?course=course-3&threshold=50"),
        ("dashboard page (course)", "/dashboard/engagement/?course=course-3"),
        ("API scores (course)", "/api/v1/engagement/scores/?course=course-3"),
        ("learner page", f"/dashboard/engagement/learners/{ids['learner']}/"),
    ]
    print(f"\n{'request':<32}{'median':>10}{'p90':>10}{'min':>10}{'queries':>9}  status")
    results = {}
    for name, path in pages:
        times, queries, status = measure(client, path, args.requests)
        times.sort()
        p90 = times[min(len(times) - 1, round(0.9 * len(times)) - 1)]
        median = statistics.median(times)
        results[name] = median
        print(f"{name:<32}{median:>8.1f}ms{p90:>8.1f}ms{times[0]:>8.1f}ms{queries:>9}  {status}")

    run = scoring_run_current()
    sql, params = at_risk_list(run=run, threshold=60).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql} LIMIT 25", params)
        plan = [row[0] for row in cursor.fetchall()]
    print("\nplan of the list query (first page):")
    print("\n".join("  " + line for line in plan))
    verdict = "OK" if results["dashboard page"] < 300 else "SLOWER THAN TARGET"
    print(f"\ndashboard median {results['dashboard page']:.1f} ms (target < 300 ms): {verdict}")


if __name__ == "__main__":
    main()
