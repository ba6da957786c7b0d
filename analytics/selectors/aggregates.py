"""Reading the daily aggregates for pages and the API (never the event table)."""

from __future__ import annotations

import datetime

from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from analytics.models import AggregateRun, DailyAggregate
from learning.models import Course

DAY = datetime.timedelta(days=1)


def latest_aggregated_day() -> datetime.date:
    """The last day the aggregates cover (today in UTC before the first run), the day every
    range ends on by default."""
    day = DailyAggregate.objects.platform().aggregate(last=Max("day"))["last"]
    return day or timezone.now().date()


def _filled(
    start: datetime.date,
    end: datetime.date,
    rows: list[DailyAggregate],
    course_id: int | None,
    instructor_id: int | None = None,
) -> list[DailyAggregate]:
    """`rows` with an unsaved zero row on each day start..end that has none, oldest first."""
    by_day = {row.day: row for row in rows}
    out: list[DailyAggregate] = []
    day = start
    while day <= end:
        out.append(
            by_day.get(day)
            or DailyAggregate(day=day, course_id=course_id, instructor_id=instructor_id)
        )
        day += DAY
    return out


def daily_series(
    start: datetime.date,
    end: datetime.date,
    *,
    course: Course | None = None,
    instructor: User | None = None,
) -> list[DailyAggregate]:
    """One row per day start..end for the platform (or `course`, or `instructor`'s courses
    together), oldest first, in one query; a day with no stored row (nothing happened in the
    scope, or not computed yet) is an unsaved zero row."""
    rows = DailyAggregate.objects.filter(day__gte=start, day__lte=end).scoped(
        course=course, instructor=instructor
    )
    return _filled(
        start,
        end,
        list(rows),
        course.pk if course is not None else None,
        instructor.pk if course is None and instructor is not None else None,
    )


def daily_series_by_scope(
    start: datetime.date, end: datetime.date
) -> dict[int | None, list[DailyAggregate]]:
    """`daily_series` of the platform (key None) and of every course with a row start..end
    (key its id), in one query; instructors' rows are not among them."""
    stored: dict[int | None, list[DailyAggregate]] = {None: []}
    for row in DailyAggregate.objects.filter(
        day__gte=start, day__lte=end, instructor__isnull=True
    ).order_by():
        stored.setdefault(row.course_id, []).append(row)
    return {scope: _filled(start, end, rows, scope) for scope, rows in stored.items()}


def last_refresh() -> AggregateRun | None:
    """The latest finished (done or failed) run of any kind, for the pages' "computed" note."""
    return (
        AggregateRun.objects.exclude(status=AggregateRun.Status.RUNNING)
        .order_by("-finished_at")
        .first()
    )
