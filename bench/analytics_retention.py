"""Benchmark of the nightly retention cohorts and lifecycle on PostgreSQL.

Generates learners, enrolments and events as bench/analytics_aggregate.py does (90 days, five
timezones, 50 courses), spreads the signups over the 90 days, gives a third of the learners
a 7-day streak, then times `retention_compute` (cells and lifecycle) twice.

    python bench/analytics_retention.py                        # 50k learners / 5M events
    python bench/analytics_retention.py --sizes 5000:500000 --db stride_bench_retention
"""

from __future__ import annotations

import argparse
import time

from _setup import setup_django
from analytics_aggregate import DAYS, generate


def spread(end) -> None:
    """Signups over the 90 days; StreakDay rows (run_length 1..7) for a third of learners."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE accounts_user SET date_joined = %s::timestamptz"
            " - make_interval(days => mod(id * 7, %s)::int)",
            [end, DAYS],
        )
        cur.execute(
            """
            INSERT INTO gamification_streakday (user_id, date, status, activity_count,
                                                run_started_on, run_length, updated_at)
            SELECT u.id, u.date_joined::date + k, 'active', 1, u.date_joined::date, k + 1, now()
            FROM accounts_user u CROSS JOIN generate_series(0, 6) k
            WHERE mod(u.id, 3) = 0
            """
        )
        cur.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50000:5000000")
    parser.add_argument("--db", default="stride_bench_retention")
    args = parser.parse_args()
    setup_django(args.db)
    from django.core.management import call_command
    from django.utils import timezone

    from analytics.services.retention import retention_compute

    call_command("migrate", verbosity=0)
    for size in args.sizes.split(","):
        n_users, n_events = (int(x) for x in size.split(":"))
        end = timezone.now()
        t0 = time.perf_counter()
        generate(n_users, n_events, end)
        spread(end)
        generated = time.perf_counter() - t0
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            done = retention_compute()
            timings.append(time.perf_counter() - t0)
        print(
            f"{n_users} learners / {n_events} events: retention {timings[0]:.1f}s, rerun "
            f"{timings[1]:.1f}s ({done.cells} cells, {done.lifecycle_weeks} lifecycle weeks); "
            f"generate {generated:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
