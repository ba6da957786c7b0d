"""Benchmark of the nightly first-week analysis on PostgreSQL.

Generates the scoring history of bench/score_risk.py (learners in four timezones, 50 courses,
events over the 8 weeks to the as-of date), spreads the enrolments over the 20 to 59 days
before it (so first weeks fall inside the history and some are not analysed yet), then times
`first_week_compute` (the platform and every course) twice.

    python bench/analytics_first_week.py                        # 50k learners / 5M events
    python bench/analytics_first_week.py --sizes 25000:2500000 --db stride_bench_first_week
"""

from __future__ import annotations

import argparse
import datetime
import time

from _setup import setup_django
from score_risk import generate


def spread(end: datetime.datetime) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE learning_enrollment SET enrolled_at = %s::timestamptz"
            " - make_interval(days => 20 + mod(id * 7, 40)::int, hours => mod(id, 24)::int)",
            [end],
        )
        cur.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50000:5000000")
    parser.add_argument("--db", default="stride_bench_first_week")
    args = parser.parse_args()
    setup_django(args.db)
    from django.core.management import call_command

    from analytics.services.first_week import first_week_compute

    call_command("migrate", verbosity=0)
    for size in args.sizes.split(","):
        n_users, n_events = (int(x) for x in size.split(":"))
        as_of = datetime.date.today() - datetime.timedelta(days=1)
        end = datetime.datetime.combine(as_of, datetime.time(23), datetime.UTC)
        t0 = time.perf_counter()
        generate(n_users, n_events, as_of)
        spread(end)
        generated = time.perf_counter() - t0
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            done = first_week_compute(now=end)
            timings.append(time.perf_counter() - t0)
        print(
            f"{n_users} learners / {n_events} events: first week {timings[0]:.1f}s, rerun "
            f"{timings[1]:.1f}s ({done.analysed} enrolments analysed, {done.weak} weak, "
            f"{done.stored} snapshots); generate {generated:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
