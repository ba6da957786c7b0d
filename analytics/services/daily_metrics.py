"""The metrics of a range of learner-local days, counted from events and enrollments.

`daily_metrics(start, end)` gives, for every (day, course, instructor) scope with anything to
count, the figures of a `DailyAggregate` row (both None: the whole platform; an instructor's
scope is the union of their courses, so a learner in two of them counts once). PostgreSQL
counts in SQL, one query per metric family over the whole range (``AT TIME ZONE`` the
learner's timezone), the instructor scope one more grouping of the same rows; SQLite knows
no timezones, so there the same figures are counted in Python from the range's rows,
converted one timezone name at a time. Both give the same numbers.
`daily_revenue(start, end)` does the same for the `purchase` events, per currency.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from decimal import Decimal
from statistics import median

from django.db import connection, transaction
from django.db.models import Min

from accounts.models import User
from analytics.services.at_risk import daily_at_risk
from analytics.services.event_scan import REVIEW_TYPE, count_events
from core.bulk import fetch_rows
from core.localtime import local_date, utc_bounds_of_local_dates
from core.statement_timeout import statement_timeout_for_jobs
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from interventions.models import Delivery
from learning.models import Course, Enrollment

DAY = datetime.timedelta(days=1)
WEEK_DAYS = 7
MONTH_DAYS = 30
# Each step of a delivery counts on the learner's local day it happened.
MESSAGE_STEPS = {
    "messages_sent": "sent_at",
    "messages_opened": "opened_at",
    "messages_clicked": "clicked_at",
    "messages_converted": "converted_at",
}
AGGREGATION_WORK_MEM = "256MB"  # per query of a chunk, see _postgresql

PURCHASE_TYPE = "purchase"  # properties.amount (number) and properties.currency (ISO 4217)

Scope = tuple[datetime.date, int | None, int | None]
"""(learner-local day, course id, instructor id): at most one id set, neither for the
platform."""
RevenueKey = tuple[datetime.date, int | None, int | None, str]
"""(learner-local day, course id, instructor id, currency), scoped as `Scope`."""
# GROUPING(course_id, instructor_id) of each grouping set: 1 a course's group, 2 an
# instructor's, 3 the platform's.
COURSE_SET, INSTRUCTOR_SET, PLATFORM_SET = 1, 2, 3


@dataclass
class Revenue:
    """What the purchases of one scope, day and currency paid."""

    amount: Decimal = Decimal(0)
    transactions: int = 0


@dataclass
class Metrics:
    """The figures of one scope and day (see `DailyAggregate` for their meaning)."""

    dau: int = 0
    wau: int = 0
    mau: int = 0
    new_learners: int = 0
    events: int = 0
    enrollments: int = 0
    completions: int = 0
    starts: int = 0
    rating_sum: float = 0.0
    rating_count: int = 0
    median_days_to_complete: float | None = None
    messages_sent: int = 0
    messages_opened: int = 0
    messages_clicked: int = 0
    messages_converted: int = 0
    scored_learners: int = 0
    at_risk_learners: int = 0


METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Metrics))


def daily_metrics(
    start: datetime.date, end: datetime.date, *, reuse_stored: bool = True
) -> dict[Scope, Metrics]:
    """Count every metric of local days start..end; scopes with nothing to count are absent.
    `reuse_stored`: on PostgreSQL, take the activity of the days before `start` that the
    windows need from the runs before (see activity_store) rather than scan it again."""
    if end < start:
        return {}
    if connection.vendor == "postgresql":
        out = _postgresql(start, end, reuse_stored)
    else:
        out = _python(start, end)
    # The at-risk share comes from the scoring runs, read the same way on both databases.
    for (day, course_id, instructor_id), (scored, at_risk) in daily_at_risk(start, end).items():
        metrics = out.setdefault((day, course_id, instructor_id), Metrics())
        metrics.scored_learners, metrics.at_risk_learners = scored, at_risk
    return out


# --- PostgreSQL: one query per metric family ------------------------------------------------


def _tables() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "event": qn(Event._meta.db_table),
        "user": qn(User._meta.db_table),
        "enrollment": qn(Enrollment._meta.db_table),
        "delivery": qn(Delivery._meta.db_table),
        "course": qn(Course._meta.db_table),
    }


def course_instructors() -> dict[int, int]:
    """{course id: instructor id} of the courses that have an instructor."""
    return dict(
        Course.objects.filter(instructor__isnull=False)
        .order_by()
        .values_list("pk", "instructor_id")
    )


def scope_of(grouping: int, course_id: int | None, instructor_id: int | None) -> tuple | None:
    """The (course, instructor) scope of a grouping set's row, None for the group of the rows
    with no course (or no instructor), which count for the platform only."""
    if grouping == PLATFORM_SET:
        return (None, None)
    if grouping == COURSE_SET:
        return None if course_id is None else (course_id, None)
    return None if instructor_id is None else (None, instructor_id)


@contextmanager
def _job_session() -> Iterator[None]:
    """A transaction whose queries are tuned for a nightly job's aggregations."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The default work_mem (4 MB) sorts a month of (learner, course, day) rows on disk;
        # with room they hash and sort in memory, several times faster. SET LOCAL ends with
        # the block, as does the job timeout: these are a nightly job's queries.
        cursor.execute(f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}'")
        # A month of events crosses the planner's JIT threshold, and compiling costs more
        # than it saves on these one-pass aggregations (measured: 363 ms of compilation for
        # a 90 ms query).
        cursor.execute("SET LOCAL jit = off")
        statement_timeout_for_jobs(local=True)
        yield


def _postgresql(
    start: datetime.date, end: datetime.date, reuse_stored: bool
) -> dict[Scope, Metrics]:
    with _job_session():
        return _postgresql_counts(start, end, reuse_stored)


def _postgresql_counts(
    start: datetime.date, end: datetime.date, reuse_stored: bool
) -> dict[Scope, Metrics]:
    t = _tables()
    out: dict[Scope, Metrics] = defaultdict(Metrics)

    def put(
        day: datetime.date,
        grouping: int,
        course_id: int | None,
        instructor_id: int | None,
        **values: float,
    ) -> None:
        scope = scope_of(grouping, course_id, instructor_id)
        if scope is None:
            return
        metrics = out[day, *scope]
        for name, value in values.items():
            setattr(metrics, name, value)

    # Active and new learners, events and ratings: one scan of the events (see event_scan);
    # an instructor's learners are distinct over their courses (one more grouping of the
    # same bitmaps), their events and ratings their courses' sums.
    lo, hi = utc_bounds_of_local_dates(start, end)
    instructors = course_instructors()
    scanned = count_events(start, end, instructors, reuse_stored=reuse_stored)
    for key, (dau, wau, mau) in scanned.active.items():
        out[key].dau, out[key].wau, out[key].mau = dau, wau, mau
    for key, (n, started) in scanned.new.items():
        out[key].new_learners, out[key].starts = n, started
    for key, n in scanned.events.items():
        out[key].events = n
    for key, (total, n) in scanned.ratings.items():
        out[key].rating_sum, out[key].rating_count = float(total), n

    # Enrollments made and courses completed, on the learner's local day of each.
    for day, grouping, course_id, instructor_id, enrolled, completed in fetch_rows(
        f"""
        SELECT x.day, GROUPING(x.course_id, x.instructor_id), x.course_id, x.instructor_id,
               COUNT(*) FILTER (WHERE x.completion = false),
               COUNT(*) FILTER (WHERE x.completion)
        FROM (
            SELECT (n.enrolled_at AT TIME ZONE u.timezone)::date AS day, n.course_id,
                   c.instructor_id, false AS completion
            FROM {t["enrollment"]} n JOIN {t["user"]} u ON u.id = n.user_id
            JOIN {t["course"]} c ON c.id = n.course_id
            WHERE n.enrolled_at >= %s AND n.enrolled_at < %s
            UNION ALL
            SELECT (n.completed_at AT TIME ZONE u.timezone)::date, n.course_id,
                   c.instructor_id, true
            FROM {t["enrollment"]} n JOIN {t["user"]} u ON u.id = n.user_id
            JOIN {t["course"]} c ON c.id = n.course_id
            WHERE n.completed_at >= %s AND n.completed_at < %s
        ) x
        WHERE x.day BETWEEN %s AND %s
        GROUP BY GROUPING SETS ((x.day, x.course_id), (x.day, x.instructor_id), (x.day))
        """,
        [lo, hi, lo, hi, start, end],
    ):
        put(day, grouping, course_id, instructor_id, enrollments=enrolled, completions=completed)

    # The median time from enrolling to completing, of the courses completed each day.
    for day, grouping, course_id, instructor_id, seconds in fetch_rows(
        f"""
        SELECT x.day, GROUPING(x.course_id, x.instructor_id), x.course_id, x.instructor_id,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY x.seconds)
        FROM (
            SELECT (n.completed_at AT TIME ZONE u.timezone)::date AS day, n.course_id,
                   c.instructor_id,
                   EXTRACT(EPOCH FROM n.completed_at - n.enrolled_at)::float8 AS seconds
            FROM {t["enrollment"]} n JOIN {t["user"]} u ON u.id = n.user_id
            JOIN {t["course"]} c ON c.id = n.course_id
            WHERE n.completed_at >= %s AND n.completed_at < %s
        ) x
        WHERE x.day BETWEEN %s AND %s
        GROUP BY GROUPING SETS ((x.day, x.course_id), (x.day, x.instructor_id), (x.day))
        """,
        [lo, hi, start, end],
    ):
        put(
            day,
            grouping,
            course_id,
            instructor_id,
            median_days_to_complete=_days_of(seconds),
        )

    # Messages sent, opened, clicked and converted, each on the day of its step.
    steps = " UNION ALL ".join(
        f"""
            SELECT (d.{column} AT TIME ZONE u.timezone)::date AS day, d.course_id,
                   c.instructor_id, '{name}' AS step
            FROM {t["delivery"]} d JOIN {t["user"]} u ON u.id = d.user_id
            LEFT JOIN {t["course"]} c ON c.id = d.course_id
            WHERE d.{column} >= %(lo)s AND d.{column} < %(hi)s
        """
        for name, column in MESSAGE_STEPS.items()
    )
    for day, grouping, course_id, instructor_id, sent, opened, clicked, converted in fetch_rows(
        f"""
        SELECT x.day, GROUPING(x.course_id, x.instructor_id), x.course_id, x.instructor_id,
               COUNT(*) FILTER (WHERE x.step = 'messages_sent'),
               COUNT(*) FILTER (WHERE x.step = 'messages_opened'),
               COUNT(*) FILTER (WHERE x.step = 'messages_clicked'),
               COUNT(*) FILTER (WHERE x.step = 'messages_converted')
        FROM ({steps}) x
        WHERE x.day BETWEEN %(start)s AND %(end)s
        GROUP BY GROUPING SETS ((x.day, x.course_id), (x.day, x.instructor_id), (x.day))
        """,
        {"lo": lo, "hi": hi, "start": start, "end": end},
    ):
        put(
            day,
            grouping,
            course_id,
            instructor_id,
            messages_sent=sent,
            messages_opened=opened,
            messages_clicked=clicked,
            messages_converted=converted,
        )

    return dict(out)


def _days_of(seconds: float) -> float:
    """Seconds as days, rounded so that both databases' medians compare equal."""
    return round(seconds / DAY.total_seconds(), 4)


def daily_revenue(start: datetime.date, end: datetime.date) -> dict[RevenueKey, Revenue]:
    """What `purchase` events paid on local days start..end, per scope and currency."""
    if end < start:
        return {}
    lo, hi = utc_bounds_of_local_dates(start, end)
    out: dict[RevenueKey, Revenue] = {}
    if connection.vendor == "postgresql":
        t = _tables()
        with _job_session():
            rows = fetch_rows(
                f"""
            SELECT x.day, x.course_id, GROUPING(x.course_id), x.currency,
                   SUM(x.amount), COUNT(*)
            FROM (
                SELECT (e.occurred_at AT TIME ZONE u.timezone)::date AS day, e.course_id,
                       e.properties ->> 'currency' AS currency,
                       (e.properties ->> 'amount')::numeric AS amount
                FROM {t["event"]} e JOIN {t["user"]} u ON u.id = e.user_id
                WHERE e.occurred_at >= %s AND e.occurred_at < %s AND e.type = %s
                  AND e.properties ? 'amount' AND e.properties ? 'currency'
            ) x
            WHERE x.day BETWEEN %s AND %s
            GROUP BY GROUPING SETS ((x.day, x.course_id, x.currency), (x.day, x.currency))
            """,
                [lo, hi, PURCHASE_TYPE, start, end],
            )
        # A purchase is in one course at most: an instructor's are their courses' sums.
        instructors = course_instructors()
        for day, course_id, platform, currency, amount, n in rows:
            if platform:
                out[day, None, None, currency] = Revenue(Decimal(amount), n)
            elif course_id is not None:
                out[day, course_id, None, currency] = Revenue(Decimal(amount), n)
                if course_id in instructors:
                    total = out.setdefault((day, None, instructors[course_id], currency), Revenue())
                    total.amount += Decimal(amount)
                    total.transactions += n
        return out
    instructors = course_instructors()
    for course_id, at, tz, properties in (
        Event.objects.filter(type=PURCHASE_TYPE, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by()
        .values_list("course_id", "occurred_at", "user__timezone", "properties")
    ):
        day = local_date(at, tz)
        if not start <= day <= end or "amount" not in properties or "currency" not in properties:
            continue
        amount = Decimal(str(properties["amount"]))
        for scope in scopes_of(course_id, instructors):
            revenue = out.setdefault((day, *scope, properties["currency"]), Revenue())
            revenue.amount += amount
            revenue.transactions += 1
    return out


def scopes_of(
    course_id: int | None, instructors: dict[int, int]
) -> list[tuple[int | None, int | None]]:
    """The (course, instructor) scopes a row of `course_id` counts in: the platform's, the
    course's and its instructor's."""
    if course_id is None:
        return [(None, None)]
    if course_id in instructors:
        return [(None, None), (course_id, None), (None, instructors[course_id])]
    return [(None, None), (course_id, None)]


# --- elsewhere (SQLite): the same counts in Python over the range's rows --------------------


def _days(start: datetime.date, end: datetime.date) -> Iterable[datetime.date]:
    day = start
    while day <= end:
        yield day
        day += DAY


def _python(start: datetime.date, end: datetime.date) -> dict[Scope, Metrics]:
    out: dict[Scope, Metrics] = defaultdict(Metrics)
    activity = Event.objects.exclude(type__in=NON_ACTIVITY_TYPES).order_by()
    instructors = course_instructors()

    window_start = start - (MONTH_DAYS - 1) * DAY
    window_lo, window_hi = utc_bounds_of_local_dates(window_start, end)
    ScopeIds = tuple[int | None, int | None]
    active: dict[tuple[ScopeIds, datetime.date], set[int]] = defaultdict(set)
    scopes: set[ScopeIds] = {(None, None)}
    for user_id, course_id, at, tz in activity.filter(
        occurred_at__gte=window_lo, occurred_at__lt=window_hi
    ).values_list("user_id", "course_id", "occurred_at", "user__timezone"):
        day = local_date(at, tz)
        if window_start <= day <= end:
            for scope in scopes_of(course_id, instructors):
                active[scope, day].add(user_id)
                scopes.add(scope)
    for scope in scopes:
        for day in _days(start, end):
            month: set[int] = set()
            week: set[int] = set()
            for back in range(MONTH_DAYS):
                users = active.get((scope, day - back * DAY), set())
                month |= users
                if back < WEEK_DAYS:
                    week |= users
            if month:
                metrics = out[day, *scope]
                metrics.dau = len(active.get((scope, day), ()))
                metrics.wau, metrics.mau = len(week), len(month)

    lo, hi = utc_bounds_of_local_dates(start, end)
    history = activity.filter(occurred_at__lt=hi)
    per_course = list(
        history.values("user_id", "user__timezone", "course_id")
        .annotate(first=Min("occurred_at"))
        .filter(course_id__isnull=False)
        .values_list("user_id", "course_id", "user__timezone", "first")
    )
    # An instructor's first is the earliest of their courses' firsts.
    per_instructor: dict[tuple[int, int], tuple[datetime.datetime, str]] = {}
    for user_id, course_id, tz, first in per_course:
        if course_id in instructors:
            key = (user_id, instructors[course_id])
            if key not in per_instructor or first < per_instructor[key][0]:
                per_instructor[key] = (first, tz)
    firsts = [
        (user_id, (course_id, None), first, tz) for user_id, course_id, tz, first in per_course
    ]
    firsts += [
        (user_id, (None, instructor_id), first, tz)
        for (user_id, instructor_id), (first, tz) in per_instructor.items()
    ]
    firsts += [
        (user_id, (None, None), first, tz)
        for user_id, tz, first in history.values("user_id", "user__timezone")
        .annotate(first=Min("occurred_at"))
        .values_list("user_id", "user__timezone", "first")
    ]
    enrolled = set(Enrollment.objects.order_by().values_list("user_id", "course_id"))
    for user_id, (course_id, instructor_id), first, tz in firsts:
        day = local_date(first, tz)
        if start <= day <= end:
            out[day, course_id, instructor_id].new_learners += 1
            if course_id is not None and (user_id, course_id) in enrolled:
                for scope in scopes_of(course_id, instructors):
                    out[day, *scope].starts += 1

    def count(rows: Iterable[tuple[int | None, datetime.datetime, str]], name: str) -> None:
        for course_id, at, tz in rows:
            day = local_date(at, tz)
            if start <= day <= end:
                for scope in scopes_of(course_id, instructors):
                    metrics = out[day, *scope]
                    setattr(metrics, name, getattr(metrics, name) + 1)

    count(
        Event.objects.filter(occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by()
        .values_list("course_id", "occurred_at", "user__timezone"),
        "events",
    )
    enrollments = Enrollment.objects.order_by()
    count(
        enrollments.filter(enrolled_at__gte=lo, enrolled_at__lt=hi).values_list(
            "course_id", "enrolled_at", "user__timezone"
        ),
        "enrollments",
    )
    count(
        enrollments.filter(completed_at__gte=lo, completed_at__lt=hi).values_list(
            "course_id", "completed_at", "user__timezone"
        ),
        "completions",
    )
    durations: dict[Scope, list[float]] = defaultdict(list)
    for course_id, enrolled_at, completed_at, tz in enrollments.filter(
        completed_at__gte=lo, completed_at__lt=hi
    ).values_list("course_id", "enrolled_at", "completed_at", "user__timezone"):
        day = local_date(completed_at, tz)
        if start <= day <= end:
            for scope in scopes_of(course_id, instructors):
                durations[day, *scope].append((completed_at - enrolled_at).total_seconds())
    for key, seconds in durations.items():
        out[key].median_days_to_complete = _days_of(median(seconds))
    deliveries = Delivery.objects.order_by()
    for name, column in MESSAGE_STEPS.items():
        count(
            deliveries.filter(**{f"{column}__gte": lo, f"{column}__lt": hi}).values_list(
                "course_id", column, "user__timezone"
            ),
            name,
        )
    for course_id, at, tz, properties in (
        Event.objects.filter(type=REVIEW_TYPE, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by()
        .values_list("course_id", "occurred_at", "user__timezone", "properties")
    ):
        day = local_date(at, tz)
        if start <= day <= end and "rating" in properties:
            for scope in scopes_of(course_id, instructors):
                metrics = out[day, *scope]
                metrics.rating_sum += float(properties["rating"])
                metrics.rating_count += 1
    return dict(out)
