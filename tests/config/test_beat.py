"""Beat's schedule: every entry's message expires before the entry is due again."""

from __future__ import annotations

import datetime
import itertools

import pytest
from celery.schedules import crontab, maybe_schedule
from django.conf import settings
from django_celery_beat.schedulers import ModelEntry

from config.celery import app as celery_app

pytestmark = pytest.mark.django_db

WEEK_START = datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)  # a Monday


def shortest_gap_seconds(schedule: crontab | float) -> int:
    """The shortest time between two consecutive runs of `schedule`, over a week of minutes
    (an interval's is its period)."""
    if not isinstance(schedule, crontab):
        return int(maybe_schedule(schedule).run_every.total_seconds())
    runs = []
    for minute in range(2 * 7 * 24 * 60):  # two weeks, so that the gap across Sunday counts
        at = WEEK_START + datetime.timedelta(minutes=minute)
        if (
            at.minute in schedule.minute
            and at.hour in schedule.hour
            and at.isoweekday() % 7 in schedule.day_of_week
            and at.day in schedule.day_of_month
            and at.month in schedule.month_of_year
        ):
            runs.append(at)
    assert len(runs) >= 2, schedule
    return int(min((b - a).total_seconds() for a, b in itertools.pairwise(runs)))


def test_crontab_gaps_are_measured_right() -> None:
    assert shortest_gap_seconds(crontab(minute=5)) == 3600
    assert shortest_gap_seconds(crontab(hour=2, minute=30)) == 86400
    assert shortest_gap_seconds(crontab(hour="1,3", minute=0)) == 2 * 3600
    assert shortest_gap_seconds(10.0) == 10


@pytest.mark.parametrize("name", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_a_missed_run_is_dropped_before_the_next_one_is_due(name: str) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE[name]
    # As the database scheduler that beat runs with loads it, to the options it sends with.
    sent_with = ModelEntry.from_entry(name, app=celery_app, **entry).options

    assert 0 < sent_with.get("expires", 0) < shortest_gap_seconds(entry["schedule"])
