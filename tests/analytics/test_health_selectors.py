"""Queue depths from the real broker, the ingestion rate, and the runs' durations."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from analytics.models import IngestionHour
from analytics.selectors.health import (
    aggregate_runs,
    ingestion_rate,
    queue_depths,
    queue_names,
    scoring_runs,
    system_health,
)
from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import ingestion_hours_count
from config.celery import app as celery_app
from engagement.services.scoring import scoring_run_start
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def waiting_queue():
    """A queue of the configured broker (Redis, or the filesystem of `make run`) holding two
    published messages; emptied afterwards."""
    name = f"health-test-{uuid.uuid4().hex[:8]}"
    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue(name)
        queue.put({"n": 1})
        queue.put({"n": 2})
        try:
            yield name
        finally:
            queue.clear()
            queue.close()


def test_the_messages_waiting_in_a_queue_are_counted_on_the_real_broker(waiting_queue):
    assert [(d.queue, d.messages) for d in queue_depths([waiting_queue])] == [(waiting_queue, 2)]


def test_a_queue_the_broker_never_saw_is_empty():
    assert queue_depths(["health-test-never-used"])[0].messages == 0


def test_the_default_queue_is_watched():
    assert "celery" in queue_names()


def test_a_broker_that_does_not_answer_gives_unknown_depths(monkeypatch):
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setitem(celery_app.conf, "broker_read_url", "redis://127.0.0.1:9/0")
    assert [d.messages for d in queue_depths(["celery"])] == [None]


@pytest.mark.django_db
def test_the_ingestion_rate_counts_events_by_when_they_were_received():
    learner = UserFactory()
    before = timezone.now()
    make_events(learner, [("login", before - datetime.timedelta(days=3))] * 1)
    make_events(
        learner, [("page_view", before - datetime.timedelta(days=2, minutes=i)) for i in range(5)]
    )
    after = timezone.now()

    # Received just now, whenever they occurred: 6 in the last hour and the last day.
    soon = ingestion_rate(after + 30 * MINUTE)
    assert (soon.last_hour, soon.last_day) == (6, 6)
    assert soon.per_minute_hour == pytest.approx(0.1)
    assert len(soon.minutes) == 60 and sum(n for _, n in soon.minutes) == 6
    assert soon.minutes[-1][0] == (after + 30 * MINUTE).replace(second=0, microsecond=0)
    later = ingestion_rate(after + datetime.timedelta(hours=3))
    assert (later.last_hour, later.last_day) == (0, 6)
    assert later.per_minute_day == pytest.approx(6 / 1440)
    gone = ingestion_rate(after + datetime.timedelta(hours=25))
    assert (gone.last_hour, gone.last_day) == (0, 0)


@pytest.mark.django_db
def test_with_no_events_the_rate_is_zero():
    rate = ingestion_rate()
    assert (rate.last_hour, rate.last_day) == (0, 0)
    assert all(n == 0 for _, n in rate.minutes)


@pytest.mark.django_db
def test_a_scoring_run_reports_its_duration_and_learners():
    course = CourseFactory()
    for _ in range(3):
        EnrollmentFactory(course=course)

    run = scoring_run_start(execute_now=True)

    [row] = scoring_runs()
    assert (row.id, row.kind, row.status) == (run.pk, "scoring", "done")
    assert row.items == run.processed == 3
    assert row.seconds == pytest.approx((run.finished_at - run.started_at).total_seconds(), abs=0.1)


@pytest.mark.django_db
def test_aggregate_refreshes_report_their_duration_and_days():
    make_events(UserFactory(), [("login", timezone.now() - datetime.timedelta(days=1))])

    run = aggregates_refresh()

    [row] = aggregate_runs()
    assert (row.id, row.kind, row.status) == (run.pk, "refresh", "done")
    assert row.items == run.days > 0
    assert row.seconds is not None and row.seconds >= 0


@pytest.mark.django_db
def test_no_runs_no_rows():
    assert scoring_runs() == [] and aggregate_runs() == []


@pytest.mark.django_db
def test_everything_the_page_shows_takes_eight_queries(django_assert_num_queries):
    make_events(UserFactory(), [("login", timezone.now())])
    aggregates_refresh()
    scoring_run_start(execute_now=True)

    # tasks: TaskHealth + PeriodicTask; ingestion: per minute, hour, stored hours, the rest
    # of the day; the two run lists.
    with django_assert_num_queries(8):
        health = system_health()
    assert health.ingestion.last_day == 1 and len(health.aggregate_runs) == 1


@pytest.mark.django_db
def test_the_day_adds_up_the_counted_hours_and_counts_only_the_rest():
    learner = UserFactory()
    make_events(learner, [("login", timezone.now() - datetime.timedelta(days=1))] * 3)
    after = timezone.now()
    later = after + datetime.timedelta(hours=3)

    assert ingestion_hours_count(now=later) == 24
    assert ingestion_hours_count(now=later) == 0  # every closed hour of the day is counted
    hour = after.replace(minute=0, second=0, microsecond=0)
    assert IngestionHour.objects.get(events__gt=0).hour == hour
    assert IngestionHour.objects.get(hour=hour).events == 3

    # From the stored hour, from the events while their hour is still open, and out of range.
    assert ingestion_rate(later).last_day == 3
    assert ingestion_rate(after + 30 * MINUTE).last_day == 3
    assert ingestion_rate(after + datetime.timedelta(hours=25)).last_day == 0


@pytest.mark.django_db
def test_counts_older_than_two_days_are_dropped():
    now = timezone.now()
    ingestion_hours_count(now=now - datetime.timedelta(days=3))
    ingestion_hours_count(now=now)
    assert IngestionHour.objects.count() == 24
    assert IngestionHour.objects.order_by("hour").first().hour >= now - datetime.timedelta(days=2)
