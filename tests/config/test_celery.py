"""A real Celery worker executes a real task over the configured broker (Redis in CI)."""

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_expired_sessions
from config.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://") or not settings.CELERY_RESULT_BACKEND,
    reason="needs the Redis broker and result backend that `make test` provides",
)
def test_worker_runs_a_task_sent_over_redis():
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    alive = SessionStore()
    alive.create()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = clear_expired_sessions.delay()
        deleted = result.get(timeout=30)

    assert deleted == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [alive.session_key]
