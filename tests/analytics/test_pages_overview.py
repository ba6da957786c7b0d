"""The analytics overview page, its filters, CSV export and permissions, and the engagement API."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)


@pytest.fixture
def aggregates():
    course = CourseFactory(external_id="algebra-1", title="Algebra I")
    for back in range(40):
        day = END - back * DAY
        DailyAggregate.objects.create(
            day=day, dau=10 + back, wau=30, mau=60, new_learners=2, events=100, enrollments=1
        )
        DailyAggregate.objects.create(day=day, course=course, dau=3, wau=5, mau=8, events=7)
    return course


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff() -> Client:
    return signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))


def test_staff_see_the_last_days_active_learners_and_the_range_totals(aggregates):
    page = staff().get("/dashboard/analytics/?range=7")
    assert page.status_code == 200
    html = page.content.decode()
    # The last day's DAU (10 + 0), the range's new learners (7 days x 2) and the chart.
    assert 'class="stat-value">10<' in html
    assert 'class="stat-value">14<' in html
    assert 'id="active-learners"' in html
    assert "24 Nov 2026 \u2013 30 Nov 2026" in html


def test_the_headline_is_the_last_day_that_has_ended_not_today_still_under_way(db):
    today = timezone.localdate()
    DailyAggregate.objects.create(day=today, dau=3, wau=40, mau=90)  # counted at 03:00
    DailyAggregate.objects.create(day=today - DAY, dau=25, wau=41, mau=91)

    html = staff().get("/dashboard/analytics/?range=7").content.decode()

    assert 'class="stat-value">25<' in html and 'class="stat-value">3<' not in html
    assert f"active on {today - DAY:%-d %b} (the last day that has ended)" in html


def test_the_course_filter_shows_that_courses_rows(aggregates):
    html = staff().get("/dashboard/analytics/?range=7&course=algebra-1").content.decode()
    assert 'class="stat-value">3<' in html
    assert "Algebra I" in html


def test_a_custom_range_with_its_end_before_its_start_says_so_and_shows_the_default(aggregates):
    page = staff().get("/dashboard/analytics/?range=custom&from=2026-11-20&to=2026-11-10")
    assert page.status_code == 200
    html = page.content.decode()
    assert "The end date is before the start date." in html
    assert "1 Nov 2026 \u2013 30 Nov 2026" in html  # the default 30 days


def test_the_days_export_as_csv(aggregates):
    response = staff().get(
        "/dashboard/analytics/?range=custom&from=2026-11-28&to=2026-11-30&format=csv"
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["date", "dau", "wau", "mau"]
    assert [r[0] for r in rows[1:]] == ["2026-11-28", "2026-11-29", "2026-11-30"]
    assert rows[-1][1] == "10" and rows[-1][4] == "0.1667"


def test_an_empty_range_says_what_to_do():
    html = staff().get("/dashboard/analytics/").content.decode()
    assert "Nothing to show for this range" in html
    assert "aggregate_analytics" in html


def test_students_get_a_403_and_visitors_the_login_page(aggregates):
    assert signed_in(UserFactory()).get("/dashboard/analytics/").status_code == 403
    response = Client().get("/dashboard/analytics/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_instructors_never_see_the_platform_overview(aggregates):
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    response = signed_in(instructor).get("/dashboard/analytics/")
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"] != "/dashboard/analytics/"


# --- GET /api/v1/analytics/engagement/ -----------------------------------------------------


def test_the_engagement_endpoint_answers_a_row_per_day(aggregates, make_key):
    client = make_key("analytics:read")
    response = client.get("/api/v1/analytics/engagement/?from=2026-11-29&to=2026-11-30")
    assert response.status_code == 200
    assert [(r["date"], r["dau"], r["wau"], r["mau"]) for r in response.json()] == [
        ("2026-11-29", 11, 30, 60),
        ("2026-11-30", 10, 30, 60),
    ]
    course_rows = client.get(
        "/api/v1/analytics/engagement/?from=2026-11-30&to=2026-11-30&course=algebra-1"
    ).json()
    assert course_rows[0]["dau"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-30&to=2026-11-01", "to"),
        ("from=yesterday", "from"),
        ("course=nope", "course"),
        ("from=2020-01-01&to=2026-11-30", "to"),
    ],
)
def test_bad_ranges_get_a_400_naming_the_field(make_key, query, field):
    response = make_key("analytics:read").get(f"/api/v1/analytics/engagement/?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_engagement_endpoint_needs_the_analytics_scope(make_key):
    response = make_key("scores:read").get("/api/v1/analytics/engagement/")
    assert response.status_code == 403
    assert "analytics:read" in response.json()["detail"]


def test_the_overview_shows_the_ranges_revenue_per_currency_and_the_average_purchase(
    aggregates, settings
):
    for day, currency, amount, n in (
        (END, "EUR", "120.00", 3),
        (END - DAY, "EUR", "40.00", 1),
        (END, "USD", "10.00", 1),
        (END - 30 * DAY, "EUR", "999.00", 9),  # before the 7-day range
    ):
        DailyRevenue.objects.create(
            day=day, currency=currency, amount=Decimal(amount), transactions=n
        )
    html = staff().get("/dashboard/analytics/?range=7").content.decode()
    revenue = html[html.index('id="revenue"') :]
    assert "160.00 EUR" in revenue and "4 purchases, 40.00 on average" in revenue
    assert "10.00 USD" in revenue and "converted" not in revenue[:600]

    settings.ANALYTICS_EXCHANGE_RATES = {"EUR": 1, "USD": 0.5}
    html = staff().get("/dashboard/analytics/?range=7").content.decode()
    assert "≈ 165.00 converted" in html


def test_without_purchases_the_revenue_card_says_so(aggregates):
    html = staff().get("/dashboard/analytics/?range=7").content.decode()
    assert "no <code>purchase</code> event in the range" in html
