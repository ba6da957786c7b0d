"""The Celery application; configured from Django settings under the CELERY_ namespace.

A worker started without DJANGO_SETTINGS_MODULE gets the production settings, as WSGI/ASGI
do: they refuse to start without a real SECRET_KEY instead of running with DEBUG on and the
development key. `make run` (scripts/run.sh) exports config.settings.local for all its processes.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun

from core.statement_timeout import statement_timeout_for_jobs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("stride")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _tasks_are_long_jobs(**kwargs: Any) -> None:
    # A task is a job, not a request: the web's short statement timeout would cancel the
    # nightly aggregations on a big database (see core.statement_timeout).
    statement_timeout_for_jobs()
