"""The trends page: its chart, anomalies, metric chooser, CSV export, empty state and who may
see it."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from accounts.models import User
from analytics.models import DailyAggregate
from tests.accounts.factories import UserFactory
from tests.analytics.test_pages_overview import signed_in, staff
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
SPIKE = END - 3 * DAY


@pytest.fixture
def history():
    """70 days of a weekly pattern (Mondays high) with a spike three days before the end."""
    course = CourseFactory(external_id="algebra-1", title="Algebra I")
    for back in range(70):
        day = END - back * DAY
        dau = 50 + (30 if day.weekday() == 0 else 0) + (back % 3)
        if day == SPIKE:
            dau += 100
        DailyAggregate.objects.create(day=day, dau=dau, wau=200, mau=400, events=10 * dau)
        DailyAggregate.objects.create(day=day, course=course, dau=5, wau=9, mau=12, events=20)
    return course


def test_staff_see_the_trend_chart_and_the_spike_marked_as_the_only_anomaly(history):
    page = staff().get("/dashboard/analytics/trends/?range=30")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="trend"' in html and 'id="weekdays"' in html
    assert html.count('class="anomaly"') == 1
    assert SPIKE.strftime("%a %-d %b") in html


def test_the_csv_has_one_row_a_day_and_flags_the_spike(history):
    response = staff().get("/dashboard/analytics/trends/?range=30&metric=events&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 30
    assert [r["date"] for r in rows if r["anomaly"] == "yes"] == [SPIKE.isoformat()]
    assert float(rows[-1]["value"]) == DailyAggregate.objects.get(day=END, course=None).events


def test_an_unknown_metric_says_so_and_shows_dau(history):
    html = staff().get("/dashboard/analytics/trends/?metric=bogus").content.decode()
    assert "Unknown metric; showing dau." in html


def test_with_no_aggregates_the_page_says_there_is_nothing_to_show():
    html = staff().get("/dashboard/analytics/trends/").content.decode()
    assert "Nothing to show for this range" in html


def test_students_get_a_403(history):
    assert signed_in(UserFactory()).get("/dashboard/analytics/trends/").status_code == 403


def test_instructors_see_only_their_own_course(history):
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    history.instructor = instructor
    history.save()
    other = CourseFactory(external_id="other-1", title="Other")
    client = signed_in(instructor)
    html = client.get("/dashboard/analytics/trends/?range=30").content.decode()
    assert "Algebra I" in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/dashboard/analytics/trends/?range=30&format=csv").content.decode()
            )
        )
    )
    assert {r["value"] for r in rows} == {"5.0"}
    page = client.get(f"/dashboard/analytics/trends/?course={other.external_id}&format=csv")
    assert page.status_code in (400, 403, 404) or {
        r["value"] for r in csv.DictReader(io.StringIO(page.content.decode()))
    } == {"5.0"}
