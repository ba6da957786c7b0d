"""Benchmark of a scoring run: N learners with E events on a dedicated PostgreSQL database.

Generates the data server-side (INSERT ... SELECT generate_series: users in four timezones, one
enrolment each in one of 50 courses and a second one for 40 % of them, events of several types
with quiz/video/session properties spread over the 8 weeks before the as-of date, each learner
with their own activity level and fade-out day). Logins name no course (they count for every
enrolment of the learner); a third of the other events of a learner with two courses go to the
second one, except for a quarter of those learners, who never started it (their logins name
the first course). Then it times
``score_risk`` end to end (one score per active enrolment) and its parts: the SQL aggregation
(learner_activity), the signals, and prediction + explanation + bulk insert.

    python bench/score_risk.py                    # 25k/2.5M and 50k/5M
    python bench/score_risk.py --sizes 5000:500000
"""

from __future__ import annotations

import argparse
import datetime
import io
import time

from _setup import setup_django

AS_OF = datetime.date(2026, 6, 30)


def generate(n_users: int, n_events: int, as_of: datetime.date = AS_OF) -> None:
    """Flush the bench database and generate the learners and events of the 8 weeks up to
    `as_of`, in SQL."""
    from django.core.management import call_command
    from django.db import connection

    call_command("flush", interactive=False, verbosity=0)
    per_user = n_events // n_users
    end = datetime.datetime.combine(as_of, datetime.time(23), datetime.UTC)
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO learning_course (external_id, title, description, provisional,
                                         created_at, updated_at, ends_on)
            SELECT 'c' || g, 'Course ' || g, '', false, now(), now(),
                   CASE WHEN mod(g, 2) = 0 THEN %s::date + mod(g, 40) END
            FROM generate_series(1, 50) g
            """,
            [as_of],
        )
        cur.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, first_name, last_name, email,
                is_staff, is_active, date_joined, role, timezone, external_id, provisional,
                updated_at)
            SELECT '!', false, '', '', 'bench' || g || '@example.com', false, true, now(),
                   'student',
                   (ARRAY['UTC','Europe/Berlin','Asia/Tokyo','America/New_York'])[1 + mod(g, 4)],
                   'bench-' || g, false, now()
            FROM generate_series(1, %s) g
            """,
            [n_users],
        )
        # Every learner in one course; SECOND_SHARE of them (mod(id, 5) < 2) in a second one.
        cur.execute(
            """
            INSERT INTO learning_enrollment (user_id, course_id, enrolled_at, status,
                                             provisional, updated_at)
            SELECT u.id, c.first + mod(u.id, 50),
                   %(end)s::timestamptz - interval '60 days', 'active', false, now()
            FROM accounts_user u, (SELECT min(id) AS first FROM learning_course) c
            UNION ALL
            SELECT u.id, c.first + mod(u.id + 17, 50),
                   %(end)s::timestamptz - interval '30 days', 'active', false, now()
            FROM accounts_user u, (SELECT min(id) AS first FROM learning_course) c
            WHERE mod(u.id, 5) < 2
            """,
            {"end": end},
        )
        # Each learner: an activity level (exponent) and a fade-out day; events before it.
        cur.execute(
            """
            INSERT INTO engagement_event (source, client_id, type, user_id, course_id,
                                          occurred_at, received_at, session_id, device,
                                          platform, properties)
            SELECT 'bench', u.id || '-' || k, t.type, u.id,
                   CASE WHEN t.type = 'login' AND mod(u.id, 10) <> 0 THEN NULL
                        -- A third of the events go to the second course, if there is one and
                        -- the learner started it (not those with mod(id, 10) = 0, whose
                        -- logins name their first course: no sign of life in the second).
                        WHEN mod(u.id, 5) < 2 AND mod(u.id, 10) <> 0 AND mod(k, 3) = 0
                        THEN c.first + mod(u.id + 17, 50)
                        ELSE c.first + mod(u.id, 50) END,
                   o.at, o.at + interval '2 minutes', '', '', '',
                   CASE t.type
                     WHEN 'quiz_submitted' THEN jsonb_build_object(
                         'score', floor(random() * 11)::int, 'max_score', 10)
                     WHEN 'video_progress' THEN jsonb_build_object(
                         'percent', floor(random() * 101)::int)
                     WHEN 'session_end' THEN jsonb_build_object(
                         'duration_seconds', floor(random() * 3600)::int)
                     ELSE '{}'::jsonb END
            FROM (SELECT id, mod(id * 7919, 30) * (mod(id, 3) = 0)::int AS fade
                  FROM accounts_user) u
            CROSS JOIN (SELECT min(id) AS first FROM learning_course) c
            CROSS JOIN generate_series(1, %(per)s) k
            CROSS JOIN LATERAL (SELECT (ARRAY['login', 'page_view', 'lesson_started',
                'lesson_completed', 'video_progress', 'quiz_submitted', 'session_end',
                'discussion_reply', 'x-note', 'page_view'])[1 + mod(k + u.id, 10)] AS type) t
            -- Received two minutes after it occurred, as a live sender's events are.
            CROSS JOIN LATERAL (SELECT %(end)s::timestamptz
                - make_interval(days => (u.fade
                    + floor(power(random(), 1.5) * (56 - u.fade)))::int)
                - make_interval(secs => floor(random() * 50000)::int + 0 * k) AS at) o
            -- Stored in the order they arrive, as ingestion stores them (the time indexes
            -- are BRIN: they serve a time window only on a table in arrival order).
            ORDER BY o.at
            """,
            {"end": end, "per": per_user},
        )
        cur.execute("ANALYZE")


def bench(n_users: int, n_events: int) -> dict[str, float]:
    """Generate, then time score_risk and its parts; return the timings."""
    import numpy as np
    from django.core.management import call_command

    from engagement.scoring.signals import compute_signals
    from engagement.selectors.activity import learner_activity

    t0 = time.perf_counter()
    generate(n_users, n_events)
    out: dict[str, float] = {"generate": time.perf_counter() - t0}
    t0 = time.perf_counter()
    act = learner_activity(as_of=AS_OF)
    out["sql_aggregation"] = time.perf_counter() - t0
    out["rows"] = act.n_learners
    out["learners"] = len(np.unique(act.user_ids))
    out["never_started"] = int(act.never_started.sum())
    t0 = time.perf_counter()
    compute_signals(act)
    out["signals"] = time.perf_counter() - t0
    del act
    t0 = time.perf_counter()
    buf = io.StringIO()
    call_command("score_risk", f"--as-of={AS_OF}", stdout=buf)
    out["score_risk_total"] = time.perf_counter() - t0
    print(buf.getvalue().strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="25000:2500000,50000:5000000")
    parser.add_argument("--db", default="stride_bench_score")
    args = parser.parse_args()
    setup_django(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for size in args.sizes.split(","):
        n_users, n_events = (int(x) for x in size.split(":"))
        t = bench(n_users, n_events)
        print(
            f"{n_users} learners / {n_events} events: score_risk {t['score_risk_total']:.1f}s "
            f"(of which SQL aggregation ~{t['sql_aggregation']:.1f}s, signals "
            f"{t['signals']:.1f}s; generate {t['generate']:.1f}s; scored {t['rows']:.0f} "
            f"enrolments of {t['learners']:.0f} learners, {t['never_started']:.0f} never "
            "started)",
            flush=True,
        )


if __name__ == "__main__":
    main()
