"""Benchmark of analytics on the scoring benchmark's history (50,000 learners / 5,000,000 events).

The history is `bench/score_risk.py`'s (learners in four timezones, 50 courses, a second
enrolment for 40 %, eight weeks of events of several types), ending yesterday, topped up with
what analytics reads beyond activity: ten instructors owning the courses, a purchase (USD or
EUR) for a fifth of the learners, a review for a tenth, a completion for a seventh. In one run
it times:

1. the plain baseline: one SQL statement rolling the same events up per day and course
   (events and distinct learners, UTC days, no join), stored in a table; and the same rollup
   on learner-local days (joined to the learners' timezones);
2. the 90-day backfill of every aggregate (`aggregates_backfill`), and the ratio to 1;
3. what the nightly run recomputes from the aggregates and the raw tables (`analytics_derive`);
4. the nightly run as beat runs it: the aggregates' incremental refresh, then what is derived
   from them, after a day of new events and 1,000 late events from the last 7 days (typical),
   and again after 1,000 late events spread over the last 90 days (the worst case: every day
   of the 90 and the 29 after them recounted);
5. every analytics page and endpoint as staff over 90 days (median of `--requests`).

    python bench/analytics_aggregate.py                      # 50k learners / 5M events
    python bench/analytics_aggregate.py --size 5000:500000   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import statistics
import time

from _setup import setup_django
from score_risk import generate as generate_scoring_history

DAYS = 90
INSTRUCTORS = 10


def top_up(as_of: datetime.date) -> None:
    """Add instructors, purchases, reviews and completions to the scoring history."""
    from django.db import connection

    end = datetime.datetime.combine(as_of, datetime.time(23), datetime.UTC)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, first_name, last_name, email,
                is_staff, is_active, date_joined, role, timezone, external_id, provisional,
                updated_at)
            SELECT '!', false, 'Teacher', g::text, 'teacher' || g || '@example.com', false,
                   true, now(), 'instructor', 'UTC', 'teacher-' || g, false, now()
            FROM generate_series(1, %s) g
            """,
            [INSTRUCTORS],
        )
        cur.execute(
            """
            UPDATE learning_course c SET instructor_id = t.id
            FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts_user
                  WHERE role = 'instructor') t,
                 (SELECT min(id) AS first FROM learning_course) f
            WHERE t.n = mod(c.id - f.first, %s)
            """,
            [INSTRUCTORS],
        )
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT 'bench', 'extra-' || e.id || '-' || kind.type, kind.type, e.user_id,
                   e.course_id,
                   %(end)s::timestamptz - make_interval(days => mod(e.user_id * 13, 56)::int),
                   %(end)s::timestamptz - make_interval(days => mod(e.user_id * 13, 56)::int)
                     + interval '2 minutes', '', '', '',
                   CASE kind.type
                     WHEN 'purchase' THEN jsonb_build_object(
                         'amount', 19 + mod(e.user_id, 5) * 10,
                         'currency', (ARRAY['USD', 'EUR'])[1 + mod(e.user_id, 2)])
                     ELSE jsonb_build_object('rating', 1 + mod(e.user_id, 5)) END
            FROM learning_enrollment e
            CROSS JOIN (VALUES ('purchase', 5), ('review_posted', 10)) AS kind(type, every)
            WHERE mod(e.user_id, kind.every) = 0
            """,
            {"end": end},
        )
        cur.execute(
            """
            UPDATE learning_enrollment SET completed_at =
                %(end)s::timestamptz - make_interval(days => mod(user_id, 20)::int)
            WHERE mod(user_id, 7) = 0
            """,
            {"end": end},
        )
        # The history's enrollments last changed within it, not when it was generated: the
        # nightly refresh after it recounts only what changed since last night.
        cur.execute("UPDATE learning_enrollment SET updated_at = %(end)s", {"end": end})
        cur.execute("ANALYZE")


def new_events(as_of: datetime.date, per_day: int, late: int, late_days: int, tag: str) -> None:
    """Today's events (`per_day` of them, received now) and `late` events received now that
    occurred over the `late_days` days before today."""
    from django.db import connection

    today = datetime.datetime.combine(
        as_of + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT %(tag)s, g::text,
                   (ARRAY['page_view', 'lesson_started', 'login'])[1 + mod(g, 3)],
                   e.user_id, e.course_id,
                   %(today)s::timestamptz + make_interval(secs => mod(g * 7, 40000)),
                   now(), '', '', '', '{}'::jsonb
            FROM generate_series(1, %(n)s) g
            JOIN learning_enrollment e
              ON e.id = (SELECT min(id) FROM learning_enrollment) + mod(g * 7919, 50000)
            """,
            {"today": today, "n": per_day, "tag": f"today-{tag}"},
        )
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT %(tag)s, g::text, 'lesson_completed', e.user_id, e.course_id,
                   %(today)s::timestamptz - make_interval(days => 1 + mod(g, %(days)s)::int),
                   now(), '', '', '', '{}'::jsonb
            FROM generate_series(1, %(n)s) g
            JOIN learning_enrollment e
              ON e.id = (SELECT min(id) FROM learning_enrollment) + mod(g * 37, 50000)
            """,
            {"today": today, "days": late_days, "n": late, "tag": f"late-{tag}"},
        )


def nightly(as_of: datetime.date, per_day: int, late_days: int, tag: str) -> None:
    """Last night's refresh done, then a day's events and 1,000 late ones arrive: time the
    aggregates' incremental refresh and what the nightly run derives after it.

    Last night's refresh saw everything received until then: for the typical night, until
    today's midnight (UTC), after the history and before the day's events, which occur
    after it as a live sender's do; for the worst case, which follows it, until now."""
    from django.utils import timezone

    from analytics.models import AggregateRun
    from analytics.services.aggregates import aggregates_refresh
    from analytics.services.nightly import analytics_derive

    midnight = datetime.datetime.combine(
        as_of + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )
    AggregateRun.objects.create(
        kind=AggregateRun.Kind.REFRESH,
        status=AggregateRun.Status.DONE,
        received_until=midnight if tag == "typical" else timezone.now(),
        finished_at=timezone.now(),
    )
    new_events(as_of, per_day if tag == "typical" else 0, 1000, late_days, tag)
    t0 = time.perf_counter()
    # No overlap: the generated history was received minutes ago, and nothing else writes.
    run = aggregates_refresh(overlap=datetime.timedelta(0))
    refresh = time.perf_counter() - t0
    t0 = time.perf_counter()
    analytics_derive()
    derive = time.perf_counter() - t0
    print(
        f"nightly ({tag}: {per_day if tag == 'typical' else 0:,} new events and 1,000 late ones"
        f" from the last {late_days} days): incremental refresh {refresh:.2f} s over "
        f"{run.days} days (target < 10 s: {'OK' if refresh < 10 else 'NOT MET'}); "
        f"then derived in {derive:.2f} s; whole nightly run {refresh + derive:.2f} s",
        flush=True,
    )


def timed_sql(sql: str, params: list) -> float:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_rollup")
        start = time.perf_counter()
        cur.execute(sql, params)
        return time.perf_counter() - start


def baselines(start: datetime.date, end: datetime.date) -> tuple[float, float]:
    """(plain UTC-day rollup, local-day rollup) of the events of days start..end, in seconds."""
    lo = datetime.datetime.combine(start, datetime.time(), datetime.UTC) - datetime.timedelta(
        days=1
    )
    hi = datetime.datetime.combine(end, datetime.time(), datetime.UTC) + datetime.timedelta(days=2)
    plain = timed_sql(
        """
        CREATE TABLE bench_rollup AS
        SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS day, course_id,
               count(*) AS events, count(DISTINCT user_id) AS learners
        FROM engagement_event WHERE occurred_at >= %s AND occurred_at < %s
        GROUP BY 1, 2
        """,
        [lo, hi],
    )
    local = timed_sql(
        """
        CREATE TABLE bench_rollup AS
        SELECT (e.occurred_at AT TIME ZONE u.timezone)::date AS day, e.course_id,
               count(*) AS events, count(DISTINCT e.user_id) AS learners
        FROM engagement_event e JOIN accounts_user u ON u.id = e.user_id
        WHERE e.occurred_at >= %s AND e.occurred_at < %s
        GROUP BY 1, 2
        """,
        [lo, hi],
    )
    return plain, local


def pages(course: str, start: datetime.date, end: datetime.date) -> list[tuple[str, str]]:
    """Every analytics page and endpoint that is routed, with a 90-day range."""
    from django.urls import NoReverseMatch, reverse

    rng = "?range=90"
    api = f"?from={start}&to={end}"
    candidates = [
        ("analytics:overview", [], rng),
        ("analytics:courses", [], rng),
        ("analytics:course", [course], rng),
        ("analytics:instructors", [], rng),
        ("analytics:funnels", [], f"{rng}&course={course}"),
        ("analytics:cohorts", [], rng),
        ("analytics:trends", [], rng),
        ("analytics:health", [], ""),
    ]
    out = []
    for name, args, query in candidates:
        try:
            out.append((name.split(":")[1] + " page", reverse(name, args=args) + query))
        except NoReverseMatch:
            continue
    for path, extra in (
        ("engagement/", ""),
        ("courses/", ""),
        (f"courses/{course}/", ""),
        ("instructors/", ""),
        ("revenue/", ""),
        ("funnels/", f"&course={course}"),
        ("cohorts/", ""),
        ("lifecycle/", ""),
        ("trends/", "&metric=dau"),
        ("forecasts/", "&metric=dau"),
        ("health/", ""),
    ):
        out.append((f"API {path}", f"/api/v1/analytics/{path}{api}{extra}"))
    return out


def time_pages(requests: int, course: str, start: datetime.date, end: datetime.date) -> None:
    from django.test import Client

    from accounts.models import User

    # Endpoints not routed yet answer 404 and are skipped; neither they nor the sign-in log.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    logging.getLogger("axes").setLevel(logging.WARNING)
    from analytics.services.health import ingestion_hours_count

    ingestion_hours_count()  # what beat does every 10 minutes, for the health page
    staff = User.objects.create_user(
        email="bench-staff@example.com", password="x", is_staff=True, role="admin"
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    print(f"\n{'page (staff, 90 days)':<34}{'median':>10}{'worst':>10}  status")
    slowest = 0.0
    for name, url in pages(course, start, end):
        response = client.get(url)
        if response.status_code == 404 and name.startswith("API"):
            continue  # not routed (yet)
        response = client.get(url)
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times)
        slowest = max(slowest, median)
        print(
            f"{name:<34}{median:>8.1f}ms{max(times):>8.1f}ms  {response.status_code}",
            flush=True,
        )
    verdict = "OK" if slowest < 200 else "SLOWER THAN TARGET"
    print(f"slowest median {slowest:.1f} ms (target < 200 ms): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="50000:5000000")
    parser.add_argument("--db", default="stride_bench_analytics")
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args()
    # The nightly run emails staff its anomalies: kept in memory here, not printed.
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    setup_django(args.db)
    from django.core.management import call_command
    from django.utils import timezone

    from analytics.models import DailyAggregate
    from analytics.services.aggregates import aggregates_backfill
    from analytics.services.nightly import analytics_derive

    call_command("migrate", verbosity=0)
    n_users, n_events = (int(x) for x in args.size.split(":"))
    as_of = timezone.now().date() - datetime.timedelta(days=1)
    start = as_of - datetime.timedelta(days=DAYS - 1)
    t0 = time.perf_counter()
    generate_scoring_history(n_users, n_events, as_of)
    top_up(as_of)
    # A vacuumed table, as a production one is: otherwise autovacuum works through the five
    # million new rows while the timings run.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE engagement_event")
    print(
        f"{n_users:,} learners / {n_events:,} events generated in {time.perf_counter() - t0:.1f} s"
    )

    plain, local = baselines(start, as_of)
    t0 = time.perf_counter()
    aggregates_backfill(start, as_of)
    backfill = time.perf_counter() - t0
    rows = DailyAggregate.objects.count()
    print(
        f"\nplain per-day rollup (UTC days, one GROUP BY): {plain:.2f} s; "
        f"on local days: {local:.2f} s"
        f"\n90-day backfill of every aggregate: {backfill:.2f} s ({rows:,} rows) = "
        f"{backfill / plain:.2f}x the plain rollup ({backfill / local:.2f}x the local-day one);"
        f" target <= 3x: {'OK' if backfill <= 3 * plain else 'NOT MET'}",
        flush=True,
    )
    t0 = time.perf_counter()
    derived = analytics_derive()
    print(
        f"derived (funnels, anomalies and the rest) in {time.perf_counter() - t0:.2f} s: {derived}"
    )

    nightly(as_of, n_events // 56, 7, "typical")
    nightly(as_of, n_events // 56, DAYS - 1, "worst case")
    time_pages(args.requests, "c1", start, as_of)


if __name__ == "__main__":
    main()
