"""A web process, which has imported no tasks module, can still enqueue a task by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_process_enqueues_tasks_of_apps_it_never_imported():
    # As gunicorn does: Django set up and the URLs loaded, no tasks module imported; then a
    # service (the dashboard's "Recalculate", a sent intervention) enqueues after its commit.
    probe = (
        "import django; django.setup(); "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "from celery import current_app; "
        "print('before', 'engagement.execute_scoring_run' in current_app.tasks); "
        "from core.jobs import task_enqueue; "
        "task_enqueue('engagement.execute_scoring_run', 1); "
        "task_enqueue('interventions.send_due'); print('enqueued')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_BROKER_URL": "memory://",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["before", "False", "enqueued"]
