"""Nightly retention cohorts (RetentionCell) and weekly lifecycle (LifecycleWeek).

Definitions (the page, the API and the saved segments all follow them):

* Weeks are learner-local ISO weeks, Monday to Sunday, in the learner's own timezone.
* A learner is a student (User.role). "Active in a week" is any activity event in it: every
  event type but engagement's NON_ACTIVITY_TYPES, as in the daily aggregates; in a course,
  only the events of that course.
* Cohort week, "signup": the week of User.date_joined. "enrollment": the week of the
  learner's first enrollment (Enrollment.enrolled_at); in a course, of their enrollment in it.
* Course cohorts: the course's enrolled learners, counting their activity in the course.
* Breakdowns: `timezone` (User.timezone), `league` (the league tier the learner is in now,
  bronze without a game profile) and `streak7`: "yes" when the learner reached a 7-day
  streak within the 14 days from the cohort week's Monday, i.e. has a gamification StreakDay
  with run_length >= 7 dated cohort_week .. cohort_week + 13 (freezes as gamification
  counts them); "no" otherwise.
* Week offset k counts the learners of the cohort active in the k-th week after the cohort
  week (k = 0: the cohort week), for k from 0 to the current week, at most MAX_WEEK_OFFSET.
* Lifecycle of week W (platform, and per course): new (first activity ever in W), returning
  (active in W and W-1), resurrecting (active in W, not W-1, active before), dormant
  (active in W-1, not in W), for the weeks up to the current one.

PostgreSQL counts in SQL: one statement reads the events once into a temporary table of
distinct (learner, course, week) rows; one query counts the cells from it per finest group
(kind, course, week and the three breakdown values), which Python sums into the breakdowns;
another counts the lifecycle with window functions. SQLite has no timezones: there the same
figures are counted in Python from the activity rows. A run replaces every stored row in
one transaction, so a rerun never duplicates.
"""

from __future__ import annotations

import contextlib
import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from analytics.models import Breakdown, CohortKind, LifecycleWeek, RetentionCell
from campaigns.models import Segment
from campaigns.services.segments import segment_save_once
from core.bulk import fetch_rows
from core.errors import DomainValidationError
from core.localtime import local_date
from core.statement_timeout import statement_timeout_for_jobs
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from gamification.models import LearnerGameProfile, StreakDay
from learning.models import Course, Enrollment

MAX_WEEK_OFFSET = 12
STREAK_DAYS = 7  # the streak that splits the `streak7` breakdown
STREAK_WINDOW_DAYS = 14  # ... reached within this many days from the cohort week's Monday
DEFAULT_LEAGUE = "bronze"  # a learner without a game profile (gamification's default)
WORK_MEM = "256MB"
PLATFORM = 0  # the course id standing for "the platform" inside the computation

# (kind, course id or PLATFORM, breakdown, breakdown value, cohort week)
CohortKey = tuple[str, int, str, str, datetime.date]


@dataclass(frozen=True)
class RetentionComputed:
    """What `retention_compute` stored."""

    cells: int
    lifecycle_weeks: int


def week_of(day: datetime.date) -> datetime.date:
    """The Monday of the week `day` is in."""
    return day - datetime.timedelta(days=day.weekday())


def retention_compute(*, today: datetime.date | None = None) -> RetentionComputed:
    """Recompute every retention cell and lifecycle week (module docstring), replacing the
    stored ones; `today` (default: today, UTC) bounds the weeks."""
    current = week_of(today or timezone.now().date())
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            # The CTEs' row estimates are far off; compiling the plan (JIT) for the billions
            # of rows PostgreSQL fears costs more than running it.
            cursor.execute("SET LOCAL jit = off")
            statement_timeout_for_jobs(local=True)
            _stage_activity(cursor, _tables())
            sizes, retained = _postgresql_cells(current)
            lifecycle = _postgresql_lifecycle(current)
    else:
        sizes, retained, lifecycle = _python(current)
    cells = [
        RetentionCell(
            cohort_kind=kind,
            course_id=course or None,
            breakdown=breakdown,
            breakdown_value=value,
            cohort_week=week,
            week_offset=offset,
            cohort_size=size,
            retained=retained.get((kind, course, breakdown, value, week, offset), 0),
        )
        for (kind, course, breakdown, value, week), size in sizes.items()
        for offset in range(min(MAX_WEEK_OFFSET, (current - week).days // 7) + 1)
    ]
    weeks = [
        LifecycleWeek(
            week=week,
            course_id=course or None,
            new=counts[0],
            returning=counts[1],
            resurrecting=counts[2],
            dormant=counts[3],
        )
        for (course, week), counts in lifecycle.items()
    ]
    with transaction.atomic():
        RetentionCell.objects.all().delete()
        RetentionCell.objects.bulk_create(cells, batch_size=5000)
        LifecycleWeek.objects.all().delete()
        LifecycleWeek.objects.bulk_create(weeks, batch_size=5000)
    return RetentionComputed(cells=len(cells), lifecycle_weeks=len(weeks))


# --- PostgreSQL ---------------------------------------------------------------------------


def _tables() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "event": qn(Event._meta.db_table),
        "user": qn(User._meta.db_table),
        "enrollment": qn(Enrollment._meta.db_table),
        "profile": qn(LearnerGameProfile._meta.db_table),
        "streak": qn(StreakDay._meta.db_table),
    }


ACTIVITY_TABLE = "analytics_retention_activity"  # a temporary table of the computation


def _stage_activity(cursor: Any, t: dict[str, str]) -> None:
    """Read the events once into a temporary table of distinct (learner, course or 0 for
    the platform, local week) of activity, which both queries then read (a few rows per
    learner and week instead of every event)."""
    cursor.execute(f"DROP TABLE IF EXISTS {ACTIVITY_TABLE}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {ACTIVITY_TABLE} ON COMMIT DROP AS
        WITH ev AS (
            SELECT DISTINCT e.user_id, COALESCE(e.course_id, 0) AS course_id,
                   date_trunc('week', e.occurred_at AT TIME ZONE u.timezone)::date AS week
            FROM {t["event"]} e JOIN {t["user"]} u ON u.id = e.user_id
            WHERE u.role = %(student)s AND NOT (e.type = ANY(%(non)s))
        )
        SELECT user_id, course_id, week FROM ev WHERE course_id <> 0
        UNION ALL
        SELECT DISTINCT user_id, 0, week FROM ev
        """,
        _params(datetime.date.min),
    )
    cursor.execute(f"ANALYZE {ACTIVITY_TABLE}")


def _params(current: datetime.date) -> dict[str, object]:
    return {
        "student": User.Role.STUDENT,
        "non": sorted(NON_ACTIVITY_TYPES),
        "current": current,
        "max_offset": MAX_WEEK_OFFSET,
        "streak": STREAK_DAYS,
        "window": STREAK_WINDOW_DAYS,
        "league": DEFAULT_LEAGUE,
    }


def _postgresql_cells(
    current: datetime.date,
) -> tuple[dict[CohortKey, int], dict[tuple, int]]:
    t = _tables()
    rows = fetch_rows(
        f"""
        WITH learner AS (
            SELECT u.id AS user_id, u.timezone, COALESCE(p.league_tier, %(league)s) AS league,
                   date_trunc('week', u.date_joined AT TIME ZONE u.timezone)::date AS signup
            FROM {t["user"]} u LEFT JOIN {t["profile"]} p ON p.user_id = u.id
            WHERE u.role = %(student)s
        ), enr AS (
            SELECT n.user_id, n.course_id,
                   date_trunc('week', n.enrolled_at AT TIME ZONE l.timezone)::date AS week
            FROM {t["enrollment"]} n JOIN learner l ON l.user_id = n.user_id
        ), members AS (
            SELECT 'signup' AS kind, 0::bigint AS course_id, user_id, signup AS week
            FROM learner
            UNION ALL
            SELECT 'signup', e.course_id, e.user_id, l.signup
            FROM enr e JOIN learner l ON l.user_id = e.user_id
            UNION ALL
            SELECT 'enrollment', 0, user_id, MIN(week) FROM enr GROUP BY user_id
            UNION ALL
            SELECT 'enrollment', course_id, user_id, week FROM enr
        ), tagged AS (
            SELECT m.kind, m.course_id, m.user_id, m.week, l.timezone, l.league,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {t["streak"]} s
                       WHERE s.user_id = m.user_id AND s.run_length >= %(streak)s
                         AND s.date >= m.week AND s.date < m.week + %(window)s
                   ) THEN 'yes' ELSE 'no' END AS streak7
            FROM members m JOIN learner l ON l.user_id = m.user_id
            WHERE m.week <= %(current)s
        ), grouped AS MATERIALIZED (
            -- Each member with the number of its finest group (kind, course, week and the
            -- three breakdown values): the join with the activity then groups by integers,
            -- and the few thousand groups are rolled up into the breakdowns in Python.
            SELECT user_id, course_id, week,
                   DENSE_RANK() OVER (
                       ORDER BY kind, course_id, week, timezone, league, streak7
                   ) AS gid,
                   kind, timezone, league, streak7
            FROM tagged
        ), hits AS (
            SELECT g.gid, (a.week - g.week) / 7 AS week_offset, COUNT(*) AS n
            FROM grouped g JOIN {ACTIVITY_TABLE} a
              ON a.user_id = g.user_id AND a.course_id = g.course_id
             AND a.week >= g.week AND a.week <= g.week + 7 * %(max_offset)s
            GROUP BY 1, 2
        )
        SELECT gid, kind, course_id, week, timezone, league, streak7, -1, COUNT(*)
        FROM grouped GROUP BY 1, 2, 3, 4, 5, 6, 7
        UNION ALL
        SELECT gid, NULL, NULL, NULL, NULL, NULL, NULL, week_offset, n FROM hits
        """,
        _params(current),
    )
    groups: dict[int, list[CohortKey]] = {}
    sizes: dict[CohortKey, int] = defaultdict(int)
    retained: dict[tuple, int] = defaultdict(int)
    for gid, kind, course, week, tz, league, streak, offset, n in rows:
        if offset < 0:
            groups[gid] = [
                (kind, course, Breakdown.ALL.value, "", week),
                (kind, course, Breakdown.TIMEZONE.value, tz, week),
                (kind, course, Breakdown.LEAGUE.value, league, week),
                (kind, course, Breakdown.STREAK7.value, streak, week),
            ]
            for key in groups[gid]:
                sizes[key] += n
    for gid, *_, offset, n in rows:
        if offset >= 0:
            for key in groups[gid]:
                retained[(*key, offset)] += n
    return dict(sizes), dict(retained)


def _postgresql_lifecycle(current: datetime.date) -> dict[tuple[int, datetime.date], list[int]]:
    out: dict[tuple[int, datetime.date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for course, week, new, returning, resurrecting, dormant in fetch_rows(
        f"""
        WITH spans AS (
            SELECT course_id, week,
                   LAG(week) OVER w AS prev, LEAD(week) OVER w AS next
            FROM {ACTIVITY_TABLE}
            WHERE week <= %(current)s
            WINDOW w AS (PARTITION BY course_id, user_id ORDER BY week)
        )
        SELECT course_id, week,
               COUNT(*) FILTER (WHERE prev IS NULL),
               COUNT(*) FILTER (WHERE prev = week - 7),
               COUNT(*) FILTER (WHERE prev < week - 7),
               0
        FROM spans GROUP BY course_id, week
        UNION ALL
        SELECT course_id, week + 7, 0, 0, 0, COUNT(*)
        FROM spans
        WHERE (next IS NULL OR next > week + 7) AND week + 7 <= %(current)s
        GROUP BY course_id, week + 7
        """,
        _params(current),
    ):
        counts = out[course, week]
        for i, n in enumerate((new, returning, resurrecting, dormant)):
            counts[i] += n
    return dict(out)


# --- elsewhere (SQLite): the same counts in Python ----------------------------------------


def _python(
    current: datetime.date,
) -> tuple[dict[CohortKey, int], dict[tuple, int], dict[tuple[int, datetime.date], list[int]]]:
    students = User.objects.filter(role=User.Role.STUDENT).order_by()
    learners = {
        pk: (tz, week_of(local_date(joined, tz)))
        for pk, tz, joined in students.values_list("pk", "timezone", "date_joined")
    }
    leagues = dict(
        LearnerGameProfile.objects.filter(user__role=User.Role.STUDENT).values_list(
            "user_id", "league_tier"
        )
    )
    active: dict[tuple[int, int], set[datetime.date]] = defaultdict(set)
    for user_id, course_id, at, tz in (
        Event.objects.filter(user__role=User.Role.STUDENT)
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .order_by()
        .values_list("user_id", "course_id", "occurred_at", "user__timezone")
        .iterator()
    ):
        week = week_of(local_date(at, tz))
        active[user_id, PLATFORM].add(week)
        if course_id is not None:
            active[user_id, course_id].add(week)
    streak_days: dict[int, list[datetime.date]] = defaultdict(list)
    for user_id, day in StreakDay.objects.filter(
        user__role=User.Role.STUDENT, run_length__gte=STREAK_DAYS
    ).values_list("user_id", "date"):
        streak_days[user_id].append(day)

    members: list[tuple[str, int, int, datetime.date]] = []
    first_enrolled: dict[int, datetime.date] = {}
    for user_id, course_id, at in Enrollment.objects.filter(
        user__role=User.Role.STUDENT
    ).values_list("user_id", "course_id", "enrolled_at"):
        tz, signup = learners[user_id]
        week = week_of(local_date(at, tz))
        members.append((CohortKind.SIGNUP, course_id, user_id, signup))
        members.append((CohortKind.ENROLLMENT, course_id, user_id, week))
        first_enrolled[user_id] = min(week, first_enrolled.get(user_id, week))
    members += [(CohortKind.SIGNUP, PLATFORM, pk, signup) for pk, (_, signup) in learners.items()]
    members += [(CohortKind.ENROLLMENT, PLATFORM, pk, w) for pk, w in first_enrolled.items()]

    sizes: dict[CohortKey, int] = defaultdict(int)
    retained: dict[tuple, int] = defaultdict(int)
    window = datetime.timedelta(days=STREAK_WINDOW_DAYS)
    for kind, course, user_id, week in members:
        if week > current:
            continue
        tz = learners[user_id][0]
        streak = any(week <= day < week + window for day in streak_days.get(user_id, ()))
        splits = (
            (Breakdown.ALL.value, ""),
            (Breakdown.TIMEZONE.value, tz),
            (Breakdown.LEAGUE.value, leagues.get(user_id, DEFAULT_LEAGUE)),
            (Breakdown.STREAK7.value, "yes" if streak else "no"),
        )
        offsets = [
            (w - week).days // 7
            for w in active.get((user_id, course), ())
            if 0 <= (w - week).days // 7 <= MAX_WEEK_OFFSET
        ]
        for breakdown, value in splits:
            key = (str(kind), course, breakdown, value, week)
            sizes[key] += 1
            for offset in offsets:
                retained[(*key, offset)] += 1
    return dict(sizes), dict(retained), _python_lifecycle(active, current)


def _python_lifecycle(
    active: dict[tuple[int, int], set[datetime.date]], current: datetime.date
) -> dict[tuple[int, datetime.date], list[int]]:
    out: dict[tuple[int, datetime.date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    week = datetime.timedelta(days=7)
    for (_, course), weeks in active.items():
        ordered = sorted(w for w in weeks if w <= current)
        for i, w in enumerate(ordered):
            prev = ordered[i - 1] if i else None
            status = 0 if prev is None else 1 if prev == w - week else 2
            out[course, w][status] += 1
            following = ordered[i + 1] if i + 1 < len(ordered) else None
            if (following is None or following > w + week) and w + week <= current:
                out[course, w + week][3] += 1
    return dict(out)


# --- a cohort row saved as a campaigns segment ----------------------------------------------


def cohort_filter(
    *, kind: str, week: datetime.date, breakdown: str, value: str, course: Course | None
) -> dict[str, Any]:
    """The campaigns filter that selects exactly the students of one matrix row (module
    definitions; the league and timezone as they are when the segment is used)."""
    monday = week.isoformat()
    conditions: list[dict[str, Any]] = []
    if kind == CohortKind.SIGNUP:
        conditions.append({"field": "signup_week", "op": "=", "value": monday})
        if course is not None:
            conditions.append({"field": "course", "op": "=", "value": course.external_id})
    else:
        first: dict[str, Any] = {"field": "first_enrollment_week", "op": "=", "value": monday}
        if course is not None:
            first["course"] = course.external_id
        conditions.append(first)
    if breakdown == Breakdown.TIMEZONE:
        conditions.append({"field": "timezone", "op": "=", "value": value})
    elif breakdown == Breakdown.LEAGUE:
        conditions.append({"field": "league", "op": "=", "value": value})
    elif breakdown == Breakdown.STREAK7:
        op = ">=" if value == "yes" else "<"
        conditions.append(
            {"field": "streak_in_two_weeks", "week": monday, "op": op, "value": STREAK_DAYS}
        )
    return {"all": conditions}


def _cohort_name(
    kind: str, week: datetime.date, breakdown: str, value: str, course: Course | None
) -> str:
    verb = "signed up" if kind == CohortKind.SIGNUP else "first enrolled"
    name = f"Cohort: {verb} week of {week:%d %b %Y}"
    if course is not None:
        name += f" in {course.title}"
    if breakdown == Breakdown.STREAK7:
        name += ", 7-day streak" if value == "yes" else ", no 7-day streak"
    elif breakdown != Breakdown.ALL:
        name += f", {breakdown} {value}"
    return name[:120]


def cohort_segment_save(
    *,
    kind: Any,
    week: Any,
    breakdown: Any,
    value: Any,
    course: Course | None,
    actor: User | None,
) -> Segment:
    """A campaigns segment of one matrix row's learners (`cohort_filter`); saving the same
    row again returns the segment saved before. Raises DomainValidationError naming the
    field for a kind, week, breakdown or value that is not a cohort's."""
    errors: dict[str, str] = {}
    if kind not in CohortKind.values:
        errors["kind"] = f"Choose one of {', '.join(CohortKind.values)}."
    monday = None
    with contextlib.suppress(ValueError):
        monday = datetime.date.fromisoformat(week) if isinstance(week, str) else None
    if monday is None or monday.weekday() != 0:
        errors["week"] = "Give the cohort's Monday as YYYY-MM-DD."
    if breakdown not in Breakdown.values:
        errors["breakdown"] = f"Choose one of {', '.join(Breakdown.values)}."
    elif breakdown == Breakdown.ALL and value:
        errors["value"] = "A cohort without a breakdown has no value."
    elif breakdown == Breakdown.STREAK7 and value not in ("yes", "no"):
        errors["value"] = 'Choose "yes" or "no".'
    elif breakdown != Breakdown.ALL and (not isinstance(value, str) or not value):
        errors["value"] = "Give the breakdown's value."
    if errors:
        raise DomainValidationError(errors)
    assert monday is not None
    filter_ = cohort_filter(kind=kind, week=monday, breakdown=breakdown, value=value, course=course)
    name = _cohort_name(kind, monday, breakdown, value, course)
    return segment_save_once(
        name=name,
        filter_=filter_,
        description="Saved from the analytics cohorts page.",
        actor=actor,
        default_slug="cohort",
        error_field="week",
    )
