"""Writes of system health: the outcomes of the periodic tasks.

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
from django.db.models import F

from analytics.models import TaskHealth

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
