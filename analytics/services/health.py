"""Writes of system health: the outcomes of the periodic tasks, and the hourly ingestion
counts the health page adds up.

The Celery signal receivers (analytics.receivers) call these for every task on the beat
schedule. Each is an UPDATE on the task's unique row (created on first sight with
ignore_conflicts), so that two workers finishing the same task at once never duplicate the
row nor lose a count.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.conf import settings
from django.db.models import Count, F
from django.db.models.functions import TruncHour
from django.utils import timezone

from analytics.models import IngestionHour, TaskHealth
from engagement.models import Event

ERROR_LENGTH = TaskHealth._meta.get_field("last_error").max_length
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_SPACE = re.compile(r"\s+")


def scheduled_task_names() -> frozenset[str]:
    """The names of the tasks on the beat schedule (settings.CELERY_BEAT_SCHEDULE)."""
    return frozenset(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values())


def error_summary(exception: BaseException) -> str:
    """The exception's type and first words, on one line, with email addresses masked and cut
    to fit `TaskHealth.last_error`: enough to tell failures apart, no learner's address."""
    message = _SPACE.sub(" ", str(exception)).strip()
    message = _ADDRESS.sub("<address>", message)
    text = f"{type(exception).__name__}: {message}" if message else type(exception).__name__
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def _record(task: str, **changes: Any) -> None:
    if TaskHealth.objects.filter(task=task).update(**changes):
        return
    TaskHealth.objects.bulk_create([TaskHealth(task=task)], ignore_conflicts=True)
    TaskHealth.objects.filter(task=task).update(**changes)


def task_health_started(*, task: str, at: datetime.datetime) -> None:
    """Note that `task` started at `at`."""
    _record(task, last_started_at=at)


def task_health_succeeded(*, task: str, at: datetime.datetime, seconds: float | None) -> None:
    """Note that `task` finished successfully at `at` after `seconds`."""
    _record(task, last_success_at=at, last_success_seconds=seconds, successes=F("successes") + 1)


def task_health_failed(
    *, task: str, at: datetime.datetime, seconds: float | None, exception: BaseException
) -> None:
    """Note that `task` failed at `at` after `seconds`, with a summary of `exception`."""
    _record(
        task,
        last_failure_at=at,
        last_failure_seconds=seconds,
        last_error=error_summary(exception),
        failures=F("failures") + 1,
    )


# An event stored by a transaction that began before the count but committed after it carries
# a received_at inside an hour already counted; an hour is counted once it ended this long ago.
LATE_COMMITS = datetime.timedelta(minutes=10)
HOUR = datetime.timedelta(hours=1)
KEPT_HOURS = 48


def ingestion_hours_count(*, now: datetime.datetime | None = None) -> int:
    """Count the events received in each closed hour of the last day that has no count yet
    (one grouped query, bounded on the indexed `Event.received_at`), store them, and drop the
    counts older than KEPT_HOURS; return how many hours were counted."""
    now = now or timezone.now()
    last_end = (now - LATE_COMMITS).replace(minute=0, second=0, microsecond=0)
    first = last_end - 24 * HOUR
    hours = [first + i * HOUR for i in range(24)]
    stored = set(
        IngestionHour.objects.filter(hour__gte=first, hour__lt=last_end).values_list(
            "hour", flat=True
        )
    )
    missing = [h for h in hours if h not in stored]
    IngestionHour.objects.filter(hour__lt=now - KEPT_HOURS * HOUR).delete()
    if not missing:
        return 0
    counts = dict(
        Event.objects.order_by()
        .filter(received_at__gte=missing[0], received_at__lt=missing[-1] + HOUR)
        .annotate(at=TruncHour("received_at", tzinfo=datetime.UTC))
        .values("at")
        .annotate(n=Count("id"))
        .values_list("at", "n")
    )
    IngestionHour.objects.bulk_create(
        [IngestionHour(hour=h, events=counts.get(h, 0), counted_at=now) for h in missing],
        ignore_conflicts=True,  # a concurrent count stored the same figures
    )
    return len(missing)
