"""The nightly analytics tasks: the aggregates' refresh, then (its own beat entry, after it)
what reads the aggregates."""

from __future__ import annotations

import datetime

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from analytics.models import DailyAggregate, Forecast, FunnelProgress, RetentionCell
from analytics.tasks import derive, refresh
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

DAY = datetime.timedelta(days=1)


def test_what_reads_the_aggregates_runs_after_the_refresh_on_the_beat_schedule():
    refresh_entry = settings.CELERY_BEAT_SCHEDULE["analytics.refresh"]
    derive_entry = settings.CELERY_BEAT_SCHEDULE["analytics.derive"]
    assert derive_entry["task"] == "analytics.derive"
    for entry in (refresh_entry, derive_entry):
        assert isinstance(entry["schedule"], crontab)
    refresh_at = min(refresh_entry["schedule"].hour) * 60 + min(refresh_entry["schedule"].minute)
    derive_at = min(derive_entry["schedule"].hour) * 60 + min(derive_entry["schedule"].minute)
    assert derive_at > refresh_at


@pytest.mark.django_db
def test_the_refresh_counts_the_days_and_the_derive_task_builds_on_them(eager):
    course = CourseFactory()
    now = timezone.now().replace(hour=12)  # midday UTC: every event's day is plain
    today = now.date()
    for i in range(3):
        learner = UserFactory(timezone="UTC")
        EnrollmentFactory(user=learner, course=course, enrolled_at=now - 40 * DAY)
        make_events(
            learner,
            [("login", now - (d + i) * DAY) for d in range(1, 35)],
            course=course,
        )

    days = refresh.delay().get()

    assert days > 30
    assert DailyAggregate.objects.get(course=course, day=today - 5 * DAY).dau == 3
    # The refresh alone leaves the derived tables to their own task.
    assert not FunnelProgress.objects.exists() and not Forecast.objects.exists()

    derive.delay().get()

    assert FunnelProgress.objects.filter(course=course).count() == 3
    assert Forecast.objects.filter(course=course, metric="dau").exists()
    assert RetentionCell.objects.exists()
