"""Benchmark of the daily aggregates: N learners with E events over 90 days on PostgreSQL.

Generates the data server-side (users in five timezones, Tokyo and Honolulu among them, an
enrolment each in one of 50 courses, events of several types, non-activity ones included, a
tenth without a course), then times a 90-day backfill (`aggregates_compute`, nine chunks of ten
days, every metric family in SQL), the first incremental refresh and a refresh after 1,000 late
events spread over the 90 days.

    python bench/analytics_aggregate.py                       # 20k learners / 2M events
    python bench/analytics_aggregate.py --sizes 5000:500000
"""

from __future__ import annotations

import argparse
import datetime
import time

from _setup import setup_django

DAYS = 90


def generate(n_users: int, n_events: int, end: datetime.datetime) -> None:
    """Flush the bench database and generate the learners, enrolments and events in SQL."""
    from django.core.management import call_command
    from django.db import connection

    call_command("flush", interactive=False, verbosity=0)
    per_user = n_events // n_users
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO learning_course (external_id, title, description, provisional,
                                         created_at, updated_at)
            SELECT 'c' || g, 'Course ' || g, '', false, now(), now()
            FROM generate_series(1, 50) g
            """
        )
        cur.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, first_name, last_name, email,
                is_staff, is_active, date_joined, role, timezone, external_id, provisional,
                updated_at)
            SELECT '!', false, '', '', 'bench' || g || '@example.com', false, true, now(),
                   'student',
                   (ARRAY['UTC', 'Europe/Berlin', 'Asia/Tokyo', 'America/New_York',
                          'Pacific/Honolulu'])[1 + mod(g, 5)],
                   'bench-' || g, false, now()
            FROM generate_series(1, %s) g
            """,
            [n_users],
        )
        cur.execute(
            """
            INSERT INTO learning_enrollment (user_id, course_id, enrolled_at, status,
                                             provisional, updated_at, completed_at)
            SELECT u.id, c.first + mod(u.id, 50),
                   %(end)s::timestamptz - make_interval(days => mod(u.id, 100)::int),
                   'active', false, now() - interval '1 day',
                   CASE WHEN mod(u.id, 7) = 0
                        THEN %(end)s::timestamptz - make_interval(days => mod(u.id, 20)::int) END
            FROM accounts_user u, (SELECT min(id) AS first FROM learning_course) c
            """,
            {"end": end},
        )
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT 'bench', u.id || '-' || k, t.type, u.id,
                   CASE WHEN mod(k, 10) = 0 THEN NULL ELSE c.first + mod(u.id, 50) END,
                   %(end)s::timestamptz
                     - make_interval(secs => floor(power(random(), 1.3) * %(span)s)::int),
                   now() - interval '1 day', '', '', '', '{}'::jsonb
            FROM accounts_user u
            CROSS JOIN (SELECT min(id) AS first FROM learning_course) c
            CROSS JOIN generate_series(1, %(per)s) k
            CROSS JOIN LATERAL (SELECT (ARRAY['login', 'page_view', 'session_start',
                'quiz_passed', 'discussion_post', 'live_session_missed', 'page_view',
                'x-note'])[1 + mod(k + u.id, 8)] AS type) t
            """,
            {"end": end, "per": per_user, "span": DAYS * 86400},
        )
        cur.execute("ANALYZE")


def late_events(end: datetime.datetime, n: int) -> None:
    """Insert `n` events received now that occurred over the last 90 days."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT 'late', g::text, 'login', u.id, NULL,
                   %(end)s::timestamptz - make_interval(days => mod(g, %(days)s)::int),
                   now(), '', '', '', '{}'::jsonb
            FROM generate_series(1, %(n)s) g
            JOIN accounts_user u ON u.id = (SELECT min(id) FROM accounts_user) + mod(g * 37, 1000)
            """,
            {"end": end, "days": DAYS, "n": n},
        )


def bench(n_users: int, n_events: int) -> dict[str, float]:
    from django.utils import timezone

    from analytics.models import DailyAggregate
    from analytics.services.aggregates import aggregates_compute, aggregates_refresh

    end = timezone.now() - datetime.timedelta(hours=1)
    t0 = time.perf_counter()
    generate(n_users, n_events, end)
    out: dict[str, float] = {"generate": time.perf_counter() - t0}
    last = end.date()
    t0 = time.perf_counter()
    aggregates_compute(last - datetime.timedelta(days=DAYS - 1), last)
    out["backfill"] = time.perf_counter() - t0
    out["rows"] = DailyAggregate.objects.count()
    t0 = time.perf_counter()
    first = aggregates_refresh()
    out["first_refresh"] = time.perf_counter() - t0
    out["first_days"] = first.days if first else 0
    late_events(end, 1000)
    t0 = time.perf_counter()
    second = aggregates_refresh(overlap=datetime.timedelta(0))
    out["late_refresh"] = time.perf_counter() - t0
    out["late_days"] = second.days if second else 0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000:2000000")
    parser.add_argument("--db", default="stride_bench_analytics")
    args = parser.parse_args()
    setup_django(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for size in args.sizes.split(","):
        n_users, n_events = (int(x) for x in size.split(":"))
        t = bench(n_users, n_events)
        print(
            f"{n_users} learners / {n_events} events over {DAYS} days: backfill "
            f"{t['backfill']:.1f}s ({t['rows']:.0f} rows); first refresh {t['first_refresh']:.1f}s "
            f"({t['first_days']:.0f} days); after 1,000 late events {t['late_refresh']:.1f}s "
            f"({t['late_days']:.0f} days); generate {t['generate']:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
