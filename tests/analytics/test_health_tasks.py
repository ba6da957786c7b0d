"""The last success and failure of every periodic task, recorded from Celery's own signals."""

from __future__ import annotations

import datetime
import threading

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from accounts.tasks import clear_expired_sessions
from analytics.models import TaskHealth
from analytics.services.health import task_health_succeeded
from config.celery import app as celery_app


@celery_app.task(name="tests.analytics.health_explodes")
def explodes(address: str) -> None:
    raise ValueError(f"could not reach {address}\n  on the third attempt")


@celery_app.task(name="tests.analytics.health_unscheduled")
def unscheduled() -> int:
    return 1


@pytest.fixture
def scheduled_explodes(settings):
    """The failing task on the beat schedule, as an app's schedule.py would put it."""
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "tests.explodes": {"task": "tests.analytics.health_explodes", "schedule": 60},
    }


@pytest.mark.django_db
def test_an_eager_run_of_a_scheduled_task_records_its_success(eager):
    before = timezone.now()
    assert clear_expired_sessions.delay().get() == 0

    health = TaskHealth.objects.get(task="accounts.clear_expired_sessions")
    assert health.last_success_at >= before
    assert health.last_started_at <= health.last_success_at
    assert health.last_success_seconds is not None and health.last_success_seconds >= 0
    assert health.successes == 1
    assert health.last_failure_at is None and health.failures == 0


@pytest.mark.django_db
def test_a_failure_keeps_a_short_summary_without_the_address(eager, scheduled_explodes):
    clear_expired_sessions.delay()
    explodes.delay("ada.lovelace@example.com" + " and more" * 80)
    explodes.delay("grace@example.org")

    health = TaskHealth.objects.get(task="tests.analytics.health_explodes")
    assert health.failures == 2 and health.successes == 0
    assert health.last_error == "ValueError: could not reach <address> on the third attempt"
    assert "@" not in health.last_error
    assert health.last_failure_seconds is not None
    # A failure of one task leaves the others' rows alone.
    assert TaskHealth.objects.get(task="accounts.clear_expired_sessions").failures == 0


@pytest.mark.django_db
def test_a_long_error_is_cut_to_fit(eager, scheduled_explodes):
    explodes.delay("x" * 1000)

    error = TaskHealth.objects.get().last_error
    assert len(error) == 300 and error.endswith("…")


@pytest.mark.django_db
def test_tasks_off_the_schedule_are_not_recorded(eager):
    assert unscheduled.delay().get() == 1
    assert not TaskHealth.objects.exists()


@pytest.mark.django_db
def test_reruns_update_the_one_row_of_the_task(eager):
    for _ in range(3):
        clear_expired_sessions.delay()

    assert TaskHealth.objects.filter(task="accounts.clear_expired_sessions").count() == 1
    assert TaskHealth.objects.get().successes == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery_worker
@pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis://")
    or not django_settings.CELERY_RESULT_BACKEND,
    reason="needs the Redis broker and result backend that `make test` provides",
)
def test_a_real_worker_records_success_and_failure(scheduled_explodes):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(days=1)
    )

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert clear_expired_sessions.delay().get(timeout=30) == 1
        failed = explodes.delay("someone@example.com")
        failed.get(timeout=30, propagate=False)

    ok = TaskHealth.objects.get(task="accounts.clear_expired_sessions")
    assert (ok.successes, ok.failures) == (1, 0)
    bad = TaskHealth.objects.get(task="tests.analytics.health_explodes")
    assert (bad.successes, bad.failures) == (0, 1)
    assert bad.last_error == "ValueError: could not reach <address> on the third attempt"


@pytest.mark.django_db(transaction=True)
def test_workers_finishing_a_new_task_at_once_make_one_row_and_count_both():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    barrier = threading.Barrier(4)
    errors = []

    def finish() -> None:
        try:
            barrier.wait(timeout=10)
            task_health_succeeded(task="engagement.score_all", at=timezone.now(), seconds=1.0)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert list(TaskHealth.objects.values_list("task", "successes")) == [
        ("engagement.score_all", 4)
    ]
