"""Reads of system health for the health page and its API: the periodic tasks' outcomes, the
broker's queue depths, the ingestion rate and the durations of the scoring and aggregate runs.

Nothing here scans the event table: the ingestion rate counts the events received in the last
hour, bounded on `Event.received_at` (a BRIN index on PostgreSQL, a B-tree on SQLite), and
adds up the hourly counts `analytics.count_ingestion` stores for the rest of the day.
"""

from __future__ import annotations

import datetime
import itertools
import logging
from dataclasses import dataclass
from typing import Any

from celery import current_app as celery_app  # config.celery, set as current at start-up
from celery.schedules import crontab
from celery.schedules import schedule as interval
from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import ChannelError

from analytics.models import AggregateRun, IngestionHour, TaskHealth
from engagement.models import Event, ScoringRun

logger = logging.getLogger(__name__)

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
RECENT_RUNS = 30
BROKER_TIMEOUT = 2  # seconds: a broker that does not answer must not hang the page


# --- periodic tasks ------------------------------------------------------------------------

OK, STALE, FAILING = "ok", "stale", "failing"
STALE_AFTER_PERIODS = 2
_SCAN_FROM = datetime.date(2026, 3, 2)  # a Monday; any start gives the same gaps over a year
_SCAN_DAYS = 400


def _crontab_period(schedule: crontab) -> datetime.timedelta | None:
    """The longest time between two consecutive runs of `schedule` (its gap over a weekend or
    a month end, not its shortest one): the wait after which a missing run is late."""
    times = sorted(h * 60 + m for h in schedule.hour for m in schedule.minute)
    days = [
        day
        for day in (_SCAN_FROM + datetime.timedelta(days=i) for i in range(_SCAN_DAYS))
        if day.isoweekday() % 7 in schedule.day_of_week
        and day.day in schedule.day_of_month
        and day.month in schedule.month_of_year
    ]
    if not times or not days or (len(days) == 1 and len(times) == 1):
        return None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps += [(d2 - d1).days * 1440 + times[0] - times[-1] for d1, d2 in itertools.pairwise(days)]
    return datetime.timedelta(minutes=max(gaps))


def schedule_period(schedule: Any) -> datetime.timedelta | None:
    """How long a beat schedule (a crontab, an interval, or seconds) may wait between runs;
    None for a kind of schedule it cannot tell."""
    if isinstance(schedule, crontab):
        return _crontab_period(schedule)
    if isinstance(schedule, interval):
        return schedule.run_every
    if isinstance(schedule, datetime.timedelta):
        return schedule
    if isinstance(schedule, int | float):
        return datetime.timedelta(seconds=schedule)
    return None


def schedule_text(schedule: Any) -> str:
    """A beat schedule as people read it: the crontab fields, or "every N s"."""
    if isinstance(schedule, crontab):
        return " ".join(
            str(getattr(schedule, f"_orig_{part}"))
            for part in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        )
    period = schedule_period(schedule)
    return f"every {int(period.total_seconds())} s" if period else str(schedule)


@dataclass(frozen=True)
class TaskState:
    entry: str  # the beat entry's name
    task: str
    schedule: str
    period: datetime.timedelta | None
    last_run_at: datetime.datetime | None  # when beat last sent it (django_celery_beat)
    last_started_at: datetime.datetime | None
    last_success_at: datetime.datetime | None
    last_success_seconds: float | None
    last_failure_at: datetime.datetime | None
    last_failure_seconds: float | None
    last_error: str
    successes: int
    failures: int
    state: str  # OK (green), STALE (amber) or FAILING (red)

    @property
    def colour(self) -> str:
        return {OK: "green", STALE: "amber", FAILING: "red"}[self.state]


def _state(
    now: datetime.datetime,
    period: datetime.timedelta | None,
    success: datetime.datetime | None,
    failure: datetime.datetime | None,
) -> str:
    if failure is not None and (success is None or failure > success):
        return FAILING
    if success is None:
        return STALE
    if period is not None and success < now - STALE_AFTER_PERIODS * period:
        return STALE
    return OK


def task_states(now: datetime.datetime | None = None) -> list[TaskState]:
    """Every entry of the beat schedule with its last outcomes and its state, by entry name:
    failing when it failed after its last success, stale when it has not succeeded within
    twice its period (or never), ok otherwise (2 queries)."""
    now = now or timezone.now()
    entries = sorted(settings.CELERY_BEAT_SCHEDULE.items())
    health = {
        h.task: h for h in TaskHealth.objects.filter(task__in=[e["task"] for _, e in entries])
    }
    beat = dict(
        PeriodicTask.objects.filter(name__in=[name for name, _ in entries]).values_list(
            "name", "last_run_at"
        )
    )
    states = []
    for name, entry in entries:
        h = health.get(entry["task"]) or TaskHealth(task=entry["task"])
        period = schedule_period(entry["schedule"])
        states.append(
            TaskState(
                entry=name,
                task=entry["task"],
                schedule=schedule_text(entry["schedule"]),
                period=period,
                last_run_at=beat.get(name),
                last_started_at=h.last_started_at,
                last_success_at=h.last_success_at,
                last_success_seconds=h.last_success_seconds,
                last_failure_at=h.last_failure_at,
                last_failure_seconds=h.last_failure_seconds,
                last_error=h.last_error,
                successes=h.successes,
                failures=h.failures,
                state=_state(now, period, h.last_success_at, h.last_failure_at),
            )
        )
    return states


# --- queues --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    messages: int | None  # None: the broker did not answer


def queue_names() -> list[str]:
    """The Celery queues the workers consume: the default queue and any configured ones."""
    names = {celery_app.conf.task_default_queue, *celery_app.amqp.queues.keys()}
    return sorted(names)


def queue_depths(queues: list[str] | None = None) -> list[QueueDepth]:
    """The number of messages waiting in each queue (the configured ones by default), read
    from the broker with a passive queue declaration (AMQP's way, which kombu's Redis and
    filesystem transports answer from the list length / the message files). A queue the broker
    does not know holds nothing (Redis drops an empty list); a broker that does not answer
    within BROKER_TIMEOUT gives None for every queue."""
    names = queue_names() if queues is None else queues
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
            depths = []
            for name in names:
                # A channel per queue: on AMQP a failed passive declaration closes its channel.
                with conn.channel() as channel:
                    try:
                        count = channel.queue_declare(queue=name, passive=True).message_count
                    except ChannelError:
                        count = 0
                depths.append(QueueDepth(name, int(count)))
            return depths
    except Exception:  # kombu raises transport-specific errors; the log says which
        logger.warning("health: the broker does not answer", exc_info=True)
        return [QueueDepth(name, None) for name in names]


# --- ingestion -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestionRate:
    now: datetime.datetime
    last_hour: int  # events received in the 60 minutes to `now`
    last_day: int  # events received in the 24 hours to `now`
    minutes: list[tuple[datetime.datetime, int]]  # the last hour, a count per minute, oldest first

    @property
    def per_minute_hour(self) -> float:
        return self.last_hour / 60

    @property
    def per_minute_day(self) -> float:
        return self.last_day / (24 * 60)


def _day_count(now: datetime.datetime) -> int:
    """Events received in the 24 hours to `now`: the stored counts of the closed hours inside
    that window (analytics.count_ingestion) plus a count of the rest, bounded on the indexed
    `received_at` (without stored hours, the whole day is counted). 1-2 queries."""
    start = now - DAY
    covered = list(
        IngestionHour.objects.filter(hour__gte=start, hour__lte=now - HOUR)
        .order_by("hour")
        .values_list("hour", "events")
    )
    gaps = []
    cursor = start
    for hour, _ in covered:
        if hour > cursor:
            gaps.append((cursor, hour))
        cursor = max(cursor, hour + HOUR)
    if cursor < now:
        gaps.append((cursor, None))
    total = sum(events for _, events in covered)
    if gaps:
        ranges = Q()
        for a, b in gaps:
            ranges |= (
                Q(received_at__gte=a) if b is None else Q(received_at__gte=a, received_at__lt=b)
            )
        total += (
            Event.objects.order_by()
            .filter(ranges, received_at__gt=start, received_at__lte=now)
            .count()
        )
    return total


def ingestion_rate(now: datetime.datetime | None = None) -> IngestionRate:
    """Events received per minute over the last hour and the last 24 hours, and the last hour
    minute by minute (3-4 queries: the hour's two are bounded on the indexed `received_at`,
    the day adds up stored hourly counts, see `_day_count`)."""
    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0) + MINUTE  # the current minute, whole
    first = end - 60 * MINUTE
    received = Event.objects.order_by().filter(received_at__lte=now)
    per_minute = dict(
        received.filter(received_at__gte=first)
        .annotate(minute=TruncMinute("received_at", tzinfo=datetime.UTC))
        .values("minute")
        .annotate(n=Count("id"))
        .values_list("minute", "n")
    )
    minutes = [(first + i * MINUTE, per_minute.get(first + i * MINUTE, 0)) for i in range(60)]
    last_hour = received.filter(received_at__gt=now - HOUR).count()
    return IngestionRate(now=now, last_hour=last_hour, last_day=_day_count(now), minutes=minutes)


# --- runs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDuration:
    id: int
    kind: str  # "scoring" or the aggregate run's kind
    status: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    seconds: float | None  # None while running
    items: int  # learners scored / days recomputed
    error: str


def _seconds(started: datetime.datetime, finished: datetime.datetime | None) -> float | None:
    return None if finished is None else round((finished - started).total_seconds(), 1)


def scoring_runs(limit: int = RECENT_RUNS) -> list[RunDuration]:
    """The latest started scoring runs, newest first: duration and learners scored (1 query)."""
    runs = (
        ScoringRun.objects.filter(started_at__isnull=False)
        .order_by("-started_at", "-id")
        .only("id", "status", "started_at", "finished_at", "processed", "error")[:limit]
    )
    return [
        RunDuration(
            id=r.pk,
            kind="scoring",
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            seconds=_seconds(r.started_at, r.finished_at),
            items=r.processed,
            error=r.error[:300],
        )
        for r in runs
    ]


def aggregate_runs(limit: int = RECENT_RUNS) -> list[RunDuration]:
    """The latest aggregate refreshes and backfills, newest first: duration and days (1 query)."""
    runs = AggregateRun.objects.order_by("-started_at", "-id")[:limit]
    return [
        RunDuration(
            id=r.pk,
            kind=r.kind,
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            seconds=_seconds(r.started_at, r.finished_at),
            items=r.days,
            error=r.error[:300],
        )
        for r in runs
    ]


# --- everything ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemHealth:
    now: datetime.datetime
    tasks: list[TaskState]
    queues: list[QueueDepth]
    ingestion: IngestionRate
    scoring_runs: list[RunDuration]
    aggregate_runs: list[RunDuration]

    @property
    def counts(self) -> dict[str, int]:
        """How many tasks are in each state."""
        return {s: sum(1 for t in self.tasks if t.state == s) for s in (OK, STALE, FAILING)}


def system_health(now: datetime.datetime | None = None) -> SystemHealth:
    """Everything the health page and its API show (8 queries, 7 once the hours of the last
    day are counted, and one broker round trip per queue)."""
    now = now or timezone.now()
    return SystemHealth(
        now=now,
        tasks=task_states(now),
        queues=queue_depths(),
        ingestion=ingestion_rate(now),
        scoring_runs=scoring_runs(),
        aggregate_runs=aggregate_runs(),
    )
