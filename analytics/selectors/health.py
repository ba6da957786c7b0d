"""Reads of system health for the health page and its API: the periodic tasks' outcomes, the
broker's queue depths, the ingestion rate and the durations of the scoring and aggregate runs.

Nothing here scans the event table: the ingestion rate counts the events received in the last
24 hours, bounded on `Event.received_at` (a BRIN index on PostgreSQL, a B-tree on SQLite).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from celery import current_app as celery_app  # config.celery, set as current at start-up
from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone
from kombu.exceptions import ChannelError

from analytics.models import AggregateRun
from engagement.models import Event, ScoringRun

logger = logging.getLogger(__name__)

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
RECENT_RUNS = 30
BROKER_TIMEOUT = 2  # seconds: a broker that does not answer must not hang the page


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


def ingestion_rate(now: datetime.datetime | None = None) -> IngestionRate:
    """Events received per minute over the last hour and the last 24 hours (two queries, each
    bounded on the indexed `received_at`), and the last hour minute by minute."""
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
    last_day = received.filter(received_at__gt=now - DAY).count()
    return IngestionRate(now=now, last_hour=last_hour, last_day=last_day, minutes=minutes)


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
