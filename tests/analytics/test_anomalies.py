"""The nightly refresh stores the anomalies of the latest days, once each however often it runs."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from analytics.models import Anomaly, DailyAggregate
from analytics.services.aggregates import latest_complete_day
from analytics.services.anomalies import anomalies_detect
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
SPIKE = END - 2 * DAY


@pytest.fixture
def history():
    for back in range(70):
        day = END - back * DAY
        dau = 50 + (30 if day.weekday() == 0 else 0) + (back % 3)
        if day == SPIKE:
            dau += 100
        DailyAggregate.objects.create(day=day, dau=dau, wau=200, mau=400, events=500)


def test_the_spike_is_stored_once_however_often_the_scan_runs(history):
    anomalies_detect()
    anomalies_detect()

    stored = list(Anomaly.objects.values_list("day", "course", "metric"))
    assert stored == [(SPIKE, None, "dau")]


def test_with_no_aggregates_nothing_is_stored():
    assert anomalies_detect() == []
    assert not Anomaly.objects.exists()


def test_today_still_under_way_is_no_anomaly():
    # Aggregates run on to today, whose counts are partial (the nightly run comes early in
    # the day): a day that has not ended for every learner is not judged.
    today = timezone.now().date()
    UserFactory(timezone="Pacific/Honolulu")  # their yesterday may be under way too
    for back in range(70):
        day = today - back * DAY
        dau = 3 if back == 0 else 50 + (back % 3)
        DailyAggregate.objects.create(day=day, dau=dau, wau=200, mau=400, events=500)

    found = anomalies_detect()

    assert all(a.day <= latest_complete_day() for a in found)
    assert not Anomaly.objects.filter(day=today).exists()
