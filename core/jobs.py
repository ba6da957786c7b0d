"""Enqueueing Celery tasks by name from services (which sit below the tasks modules)."""

from __future__ import annotations

from typing import Any

from celery import current_app


def task_enqueue(name: str, *args: Any) -> None:
    """Send the task registered as `name`, with `args`.

    The apps' tasks modules are discovered lazily, when a worker starts; a web process has
    imported none of them, so the first call imports them as a worker does. Through the
    registry (unlike `send_task`) `task_always_eager` is honoured.
    """
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    app.tasks[name].delay(*args)
