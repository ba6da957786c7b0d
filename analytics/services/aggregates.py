"""Daily aggregates: computed for a range of days, stored idempotently, refreshed incrementally.

* `aggregates_compute(start, end)` recounts local days start..end (see `daily_metrics`) and
  upserts their rows: a platform row for every day, a course (and an instructor) row for
  every course (instructor) with anything to count; such a row that has nothing left to
  count is deleted. Rerunning it
  gives the same rows (the unique constraints of `DailyAggregate` de-duplicate). The days'
  `DailyRevenue` rows (per scope and currency) are replaced in the same transaction.
* `aggregates_refresh(now)` recomputes only the days that can have changed since the last
  done refresh: the local day of every event received since, and of every enrollment changed
  since, with the 29 days after each (their WAU and MAU windows hold it), up to today.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from analytics.models import AggregateRun, DailyAggregate, DailyRevenue
from analytics.services.at_risk import finished_run_days
from analytics.services.daily_metrics import (
    DAY,
    MESSAGE_STEPS,
    METRIC_NAMES,
    MONTH_DAYS,
    daily_metrics,
    daily_revenue,
)
from core.localtime import local_date, local_times
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.services.ingestion.validation import MAX_FUTURE
from interventions.models import Delivery
from learning.models import Enrollment

# Days are computed in chunks of this many, so that a backfill of years reports progress and
# no single transaction holds the rows of every day. Each chunk reads the 29 days before it
# too (the MAU window of its first day), so a nightly refresh (30 days; 119 after late events
# from the last 90 days) and a 90-day backfill are one chunk each: one scan of the events
# (see event_scan).
CHUNK_DAYS = 120
# An event stored by a transaction that began before a refresh but committed after it carries
# a received_at before the watermark; looking this far back again catches it (recounting a day
# twice costs little, missing it would leave it wrong until the next backfill).
WATERMARK_OVERLAP = datetime.timedelta(minutes=10)
# A refresh still "running" after this long lost its worker; the next one takes over.
STALE_RUN = datetime.timedelta(hours=2)

Progress = Callable[[datetime.date, datetime.date, int], None]
"""Called after each chunk with (chunk start, chunk end, days done so far)."""


@dataclass(frozen=True)
class ComputeResult:
    """What `aggregates_compute` wrote."""

    days: int
    rows: int


def _zones() -> set[str]:
    return set(User.objects.order_by().values_list("timezone", flat=True).distinct()) or {"UTC"}


def latest_local_day(now: datetime.datetime) -> datetime.date:
    """The latest date any learner lives at `now` (their timezones' furthest ahead)."""
    return max(local_date(now, tz) for tz in _zones())


def latest_complete_day(now: datetime.datetime | None = None) -> datetime.date:
    """The latest date that has ended for every learner at `now`: the aggregates go on to
    today, still under way, which what judges a day (anomalies, forecasts) must not read."""
    return min(local_date(now or timezone.now(), tz) for tz in _zones()) - DAY


def aggregates_compute(
    start: datetime.date,
    end: datetime.date,
    *,
    progress: Progress | None = None,
    reuse_stored: bool = True,
) -> ComputeResult:
    """Recount local days start..end and store their rows; return how many days and rows.
    Without `reuse_stored` the activity of the days before `start` is scanned again rather
    than taken from the runs before (a backfill's: see activity_store)."""
    done = rows = 0
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + (CHUNK_DAYS - 1) * DAY)
        rows += _compute_chunk(chunk_start, chunk_end, reuse_stored)
        done += (chunk_end - chunk_start).days + 1
        if progress is not None:
            progress(chunk_start, chunk_end, done)
        chunk_start = chunk_end + DAY
    return ComputeResult(days=done, rows=rows)


@transaction.atomic
def _compute_chunk(start: datetime.date, end: datetime.date, reuse_stored: bool) -> int:
    metrics = daily_metrics(start, end, reuse_stored=reuse_stored)
    now = timezone.now()
    platform: list[DailyAggregate] = []
    courses: list[DailyAggregate] = []
    instructors: list[DailyAggregate] = []
    day = start
    while day <= end:
        values = metrics.get((day, None, None))
        platform.append(
            DailyAggregate(
                day=day, course_id=None, computed_at=now, **(vars(values) if values else {})
            )
        )
        day += DAY
    for (day, course_id, instructor_id), values in sorted(
        metrics.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2] or 0)
    ):
        row = DailyAggregate(
            day=day,
            course_id=course_id,
            instructor_id=instructor_id,
            computed_at=now,
            **vars(values),
        )
        if course_id is not None:
            courses.append(row)
        elif instructor_id is not None:
            instructors.append(row)
    _upsert_platform(platform)
    fields = [*METRIC_NAMES, "computed_at"]
    for rows, scope in ((courses, "course"), (instructors, "instructor")):
        DailyAggregate.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["day", scope],
            update_fields=fields,
            batch_size=500,
        )
    stale = (
        DailyAggregate.objects.filter(day__range=(start, end))
        .exclude(course__isnull=True, instructor__isnull=True)
        .exclude(computed_at=now)
    )
    stale.delete()
    return len(platform) + len(courses) + len(instructors) + _store_revenue(start, end, now)


def _store_revenue(start: datetime.date, end: datetime.date, now: datetime.datetime) -> int:
    # Few rows a day (one per scope and currency): replaced wholesale in the chunk's
    # transaction, so a rerun leaves the same rows and a currency no longer paid disappears.
    rows = [
        DailyRevenue(
            day=day,
            course_id=course_id,
            instructor_id=instructor_id,
            currency=currency,
            amount=revenue.amount,
            transactions=revenue.transactions,
            computed_at=now,
        )
        for (day, course_id, instructor_id, currency), revenue in daily_revenue(start, end).items()
    ]
    DailyRevenue.objects.filter(day__range=(start, end)).delete()
    DailyRevenue.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def _upsert_platform(rows: list[DailyAggregate]) -> None:
    # The platform rows' unique index is partial (no course, no instructor), and an ON CONFLICT
    # target
    # must name its predicate, which bulk_create cannot say; both databases accept this.
    qn = connection.ops.quote_name
    columns = ["day", "course_id", *METRIC_NAMES, "computed_at"]
    updates = ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in [*METRIC_NAMES, "computed_at"])
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # Values as the fields store them (SQLite keeps datetimes as text in Django's own format).
    prep = [DailyAggregate._meta.get_field(c.removesuffix("_id")) for c in columns]
    for i in range(0, len(rows), 200):
        batch = rows[i : i + 200]
        params: list[object] = []
        for row in batch:
            params += [
                f.get_db_prep_value(getattr(row, c), connection)
                for f, c in zip(prep, columns, strict=True)
            ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {qn(DailyAggregate._meta.db_table)} "
                f"({', '.join(qn(c) for c in columns)}) "
                f"VALUES {', '.join([placeholders] * len(batch))} "
                f"ON CONFLICT ({qn('day')}) "
                f"WHERE {qn('course_id')} IS NULL AND {qn('instructor_id')} IS NULL "
                f"DO UPDATE SET {updates}",
                params,
            )


# --- incremental refresh --------------------------------------------------------------------


FirstKey = tuple[int, int | None, int | None]
"""(learner, course id, instructor id): a scope as in `daily_metrics`."""


def _firsts(events: QuerySet[Event]) -> dict[FirstKey, tuple[datetime.datetime, str]]:
    """Each learner's first activity among `events`, per course, per instructor (any of their
    courses) and (both None) overall."""
    firsts: dict[FirstKey, tuple[datetime.datetime, str]] = {}
    activity = events.exclude(type__in=NON_ACTIVITY_TYPES).order_by()
    for scope in (None, "course_id", "course__instructor_id"):
        columns = ("user_id", "user__timezone", *([scope] if scope else []))
        for row in activity.values(*columns).annotate(first=Min("occurred_at")):
            scope_id = row.get(scope) if scope else None
            if scope and scope_id is None:
                continue
            course_id = scope_id if scope == "course_id" else None
            instructor_id = scope_id if scope == "course__instructor_id" else None
            firsts[row["user_id"], course_id, instructor_id] = (
                row["first"],
                row["user__timezone"],
            )
    return firsts


def _moved_first_days(received: QuerySet[Event], since: datetime.datetime) -> set[datetime.date]:
    """The local days of the first activities (per learner, per learner and course, and per
    learner and instructor: any of their courses) that the `received` events moved earlier:
    each (learner, scope) of the received activity is compared with its earliest activity
    received before, one probe on the (learner, time) index each, rather than a grouping of
    those learners' whole history."""
    # An event received before `since` occurred at most MAX_FUTURE after it (ingestion
    # refuses more), so only a received event that occurred before that can precede one:
    # the late events, not the day's.
    activity = (
        received.exclude(type__in=NON_ACTIVITY_TYPES)
        .filter(occurred_at__lte=since + MAX_FUTURE)
        .order_by()
    )
    before = Event.objects.filter(user_id=OuterRef("user_id"), received_at__lte=since).exclude(
        type__in=NON_ACTIVITY_TYPES
    )
    days: set[datetime.date] = set()
    for rows, prior in (
        (activity.values("user_id", "user__timezone"), before),
        (
            activity.filter(course__isnull=False).values("user_id", "user__timezone", "course_id"),
            before.filter(course_id=OuterRef("course_id")),
        ),
        (
            activity.filter(course__instructor__isnull=False).values(
                "user_id", "user__timezone", "course__instructor_id"
            ),
            before.filter(course__instructor_id=OuterRef("course__instructor_id")),
        ),
    ):
        earliest = prior.order_by("occurred_at").values("occurred_at")[:1]
        for tz, old in (
            rows.annotate(first=Min("occurred_at"), old=Subquery(earliest))
            .filter(old__gt=F("first"))
            .values_list("user__timezone", "old")
        ):
            days.add(local_date(old, tz))
    return days


def _local_days(queryset: QuerySet[Any], at: str) -> set[datetime.date]:
    rows = local_times(
        queryset.filter(**{f"{at}__isnull": False}),
        key="course_id",
        at=at,
        tz="user__timezone",
        per="day",
    )
    return {row.local.date() for row in rows}


def _changed_days(
    since: datetime.datetime, until: datetime.datetime
) -> tuple[set[datetime.date], set[datetime.date]]:
    """The local days whose counts may differ for what was received in (since, until]:
    (days of activity, whose WAU/MAU windows follow them; days changed on their own)."""
    received = Event.objects.filter(received_at__gt=since, received_at__lte=until)
    windowed = _local_days(received.exclude(type__in=NON_ACTIVITY_TYPES), "occurred_at")
    single = _local_days(received.filter(type__in=NON_ACTIVITY_TYPES), "occurred_at")
    # A late event can move a learner's first activity earlier (on the platform, in a course
    # or among an instructor's courses): the old first day loses a new learner, however far
    # after the event it lies.
    single |= _moved_first_days(received, since)
    changed = Enrollment.objects.filter(updated_at__gt=since, updated_at__lte=until)
    single |= _local_days(changed, "enrolled_at") | _local_days(changed, "completed_at")
    # A scoring run that finished meanwhile changes its day's at-risk share.
    single |= finished_run_days(since, until)
    # A delivery step is stamped when it happens: its day is recounted.
    for column in MESSAGE_STEPS.values():
        stepped = Delivery.objects.filter(**{f"{column}__gt": since, f"{column}__lte": until})
        single |= _local_days(stepped, column)
    # An enrollment made after the learner's first activity in its course makes that day a
    # start.
    pairs = set(changed.order_by().values_list("user_id", "course_id"))
    if pairs:
        for key, (first, tz) in _firsts(
            Event.objects.filter(user_id__in={user_id for user_id, _ in pairs})
        ).items():
            if key[2] is None and key[:2] in pairs:
                single.add(local_date(first, tz))
    return windowed, single


def _first_day() -> datetime.date | None:
    firsts = [
        local_date(at, tz)
        for queryset, field in ((Event.objects, "occurred_at"), (Enrollment.objects, "enrolled_at"))
        for tz, at in queryset.values("user__timezone")
        .annotate(first=Min(field))
        .order_by()
        .values_list("user__timezone", "first")
    ]
    return min(firsts, default=None)


def _ranges(days: Iterable[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Contiguous runs of `days` as (first, last) pairs, in order."""
    ranges: list[tuple[datetime.date, datetime.date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + DAY == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def days_to_refresh(
    *, since: datetime.datetime | None, until: datetime.datetime
) -> list[datetime.date]:
    """The days a refresh covering receipts up to `until` recomputes (since None: all)."""
    today = latest_local_day(until)
    if since is None:
        first = _first_day()
        if first is None:
            return []
        return [first + i * DAY for i in range((today - first).days + 1)]
    windowed, single = _changed_days(since, until)
    days = {day + i * DAY for day in windowed for i in range(MONTH_DAYS)} | single
    return sorted(day for day in days if day <= today)


def _last_watermark() -> datetime.datetime | None:
    run = (
        AggregateRun.objects.filter(
            kind=AggregateRun.Kind.REFRESH,
            status=AggregateRun.Status.DONE,
            received_until__isnull=False,
        )
        .order_by("-received_until")
        .first()
    )
    return run.received_until if run else None


def aggregates_refresh(
    now: datetime.datetime | None = None,
    *,
    overlap: datetime.timedelta = WATERMARK_OVERLAP,
    progress: Progress | None = None,
) -> AggregateRun | None:
    """Recompute the days changed since the last done refresh; return the run.

    What was received up to `overlap` before the last refresh's watermark is looked at again
    (see WATERMARK_OVERLAP). Returns None when another refresh is under way (and not stale).
    The first refresh ever computes every day from the first event or enrollment to today.
    """
    now = now or timezone.now()
    with transaction.atomic():
        running = AggregateRun.objects.select_for_update().filter(
            kind=AggregateRun.Kind.REFRESH, status=AggregateRun.Status.RUNNING
        )
        if running.filter(started_at__gt=timezone.now() - STALE_RUN).exists():
            return None
        running.update(status=AggregateRun.Status.FAILED, finished_at=timezone.now(), error="stale")
        try:
            with transaction.atomic():
                run = AggregateRun.objects.create(
                    kind=AggregateRun.Kind.REFRESH, received_until=now
                )
        except IntegrityError:  # another refresh began meanwhile
            return None
    try:
        since = _last_watermark()
        days = days_to_refresh(since=since - overlap if since else None, until=now)
        for start, end in _ranges(days):
            aggregates_compute(start, end, progress=progress)
    except Exception as error:
        AggregateRun.objects.filter(pk=run.pk).update(
            status=AggregateRun.Status.FAILED, finished_at=timezone.now(), error=repr(error)
        )
        raise
    run.status = AggregateRun.Status.DONE
    run.finished_at = timezone.now()
    run.days = len(days)
    run.first_day = days[0] if days else None
    run.last_day = days[-1] if days else None
    run.save(update_fields=["status", "finished_at", "days", "first_day", "last_day"])
    return run


def aggregates_backfill(
    start: datetime.date, end: datetime.date, *, progress: Progress | None = None
) -> AggregateRun:
    """Recompute local days start..end whatever changed, recorded as a backfill run."""
    run = AggregateRun.objects.create(
        kind=AggregateRun.Kind.BACKFILL, first_day=start, last_day=end
    )
    try:
        result = aggregates_compute(start, end, progress=progress, reuse_stored=False)
    except Exception as error:
        AggregateRun.objects.filter(pk=run.pk).update(
            status=AggregateRun.Status.FAILED, finished_at=timezone.now(), error=repr(error)
        )
        raise
    run.status = AggregateRun.Status.DONE
    run.finished_at = timezone.now()
    run.days = result.days
    run.save(update_fields=["status", "finished_at", "days"])
    return run


__all__ = [
    "ComputeResult",
    "aggregates_backfill",
    "aggregates_compute",
    "aggregates_refresh",
    "days_to_refresh",
    "latest_complete_day",
    "latest_local_day",
]
