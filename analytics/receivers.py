"""Celery's task signals (a library's signals: the documented way to hear every task), handed
to analytics.services.health for the tasks on the beat schedule. Connected in
AnalyticsConfig.ready; analytics may hear every app's tasks, and no app needs to know."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.utils import timezone

from analytics.services.health import (
    scheduled_task_names,
    task_health_failed,
    task_health_started,
    task_health_succeeded,
)

logger = logging.getLogger(__name__)

# Monotonic start of each task under way in this process, by task id: a task's prerun and its
# outcome run in the same worker process (and thread), whatever the pool.
_started: dict[str, float] = {}


def _name(sender: Any) -> str | None:
    name = getattr(sender, "name", None)
    return name if name in scheduled_task_names() else None


def _seconds(task_id: str | None) -> float | None:
    started = _started.pop(task_id, None) if task_id else None
    return None if started is None else round(time.monotonic() - started, 3)


def _safely(record: Any, **kwargs: Any) -> None:
    # Health bookkeeping must never turn a task's success into a failure.
    try:
        record(**kwargs)
    except Exception:
        logger.warning("task health: could not record %s", kwargs.get("task"), exc_info=True)


def on_task_prerun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    name = _name(sender)
    if name is None:
        return
    if task_id:
        _started[task_id] = time.monotonic()
    _safely(task_health_started, task=name, at=timezone.now())


def on_task_success(sender: Any = None, **kwargs: Any) -> None:
    name = _name(sender)
    if name is None:
        return
    task_id = getattr(getattr(sender, "request", None), "id", None)
    _safely(task_health_succeeded, task=name, at=timezone.now(), seconds=_seconds(task_id))


def on_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **kwargs: Any,
) -> None:
    name = _name(sender)
    if name is None:
        return
    _safely(
        task_health_failed,
        task=name,
        at=timezone.now(),
        seconds=_seconds(task_id),
        exception=exception or Exception("unknown error"),
    )


def on_task_postrun(task_id: str | None = None, **kwargs: Any) -> None:
    # A retried or revoked task has no outcome signal: forget its start.
    if task_id:
        _started.pop(task_id, None)
