"""GET /api/v1/analytics/forecasts/ and /api/v1/analytics/trends/: what they answer, the 400s
naming the field, and who may read which scope."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue, Forecast
from analytics.services.forecasts import forecasts_compute
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
SPIKE = END - 3 * DAY
FORECASTS = "/api/v1/analytics/forecasts/"
TRENDS = "/api/v1/analytics/trends/"


@pytest.fixture
def history():
    """Eight weeks: platform DAU with Mondays high and a spike, EUR revenue, one course with
    an instructor and one without; forecast by the nightly service."""
    rng = random.Random(4)
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    algebra = CourseFactory(external_id="algebra-1", instructor=instructor)
    other = CourseFactory(external_id="other-1")
    for back in range(56):
        day = END - back * DAY
        dau = 50 + (30 if day.weekday() == 0 else 0) + (back % 3) + (100 if day == SPIKE else 0)
        DailyAggregate.objects.create(day=day, dau=dau, enrollments=rng.randint(2, 6))
        DailyAggregate.objects.create(day=day, course=algebra, dau=rng.randint(5, 9))
        DailyAggregate.objects.create(day=day, course=other, dau=rng.randint(5, 9))
        DailyRevenue.objects.create(day=day, currency="EUR", amount=Decimal(rng.randint(40, 60)))
    forecasts_compute()
    return instructor, algebra, other


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- forecasts ---------------------------------------------------------------------------------


def test_the_forecast_has_30_points_with_both_intervals_and_its_backtest(history, make_key):
    body = make_key("analytics:read").get(FORECASTS).json()

    stored = Forecast.objects.get(course=None, metric="dau")
    assert body["metric"] == "dau" and body["course"] is None and body["currency"] == ""
    assert body["origin"] == END.isoformat()
    assert body["model"].endswith("weekly seasonality")
    assert len(body["points"]) == 30 and body["points"][0]["date"] == (END + DAY).isoformat()
    p = body["points"][0]
    assert 0 <= p["lower_95"] <= p["lower_80"] <= p["mean"] <= p["upper_80"] <= p["upper_95"]
    assert body["backtest"]["days"] == 14
    assert body["backtest"]["covered_95"] == stored.backtest_covered_95
    assert body["backtest"]["mape"] == pytest.approx(stored.backtest_mape)


def test_revenue_is_forecast_per_currency_and_a_course_by_its_external_id(history, make_key):
    client = make_key("analytics:read")
    revenue = client.get(f"{FORECASTS}?metric=revenue&currency=EUR").json()
    assert revenue["currency"] == "EUR" and len(revenue["points"]) == 30
    course = client.get(f"{FORECASTS}?course=algebra-1").json()
    assert course["course"] == "algebra-1"
    assert course["points"][0]["mean"] == pytest.approx(
        Forecast.objects.get(course=history[1], metric="dau").points[0]["mean"]
    )


def test_before_the_first_run_the_answer_says_why_there_is_no_forecast(make_key):
    body = make_key("analytics:read").get(FORECASTS).json()
    assert body["origin"] is None and body["points"] == [] and body["backtest"] is None
    assert "aggregate_analytics" in body["reason"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("metric=mau", "metric"),
        ("metric=revenue", "currency"),
        ("metric=revenue&currency=eur", "currency"),
        ("metric=dau&currency=EUR", "currency"),
        ("course=nope", "course"),
    ],
)
def test_bad_forecast_queries_get_a_400_naming_the_field(history, make_key, query, field):
    response = make_key("analytics:read").get(f"{FORECASTS}?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_missing_currency_names_the_currencies_forecast(history, make_key):
    response = make_key("analytics:read").get(f"{FORECASTS}?metric=revenue")
    assert "EUR" in response.json()["fields"]["currency"][0]


# --- trends ------------------------------------------------------------------------------------


def test_the_trend_answers_a_row_a_day_with_averages_line_and_the_spike(history, make_key):
    body = make_key("analytics:read").get(f"{TRENDS}?from=2026-11-01&to={END}").json()

    assert body["metric"] == "dau" and len(body["days"]) == 30
    assert [a["date"] for a in body["anomalies"]] == [SPIKE.isoformat()]
    flagged = [d["date"] for d in body["days"] if d["anomaly"]]
    assert flagged == [SPIKE.isoformat()]
    last = body["days"][-1]
    assert last["value"] == DailyAggregate.objects.get(day=END, course=None).dau
    assert last["ma7"] is not None and last["trend_lower"] <= last["trend"] <= last["trend_upper"]
    assert [w["weekday"] for w in body["weekdays"]] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]
    assert body["weekdays"][0]["ratio"] > 1.2  # Mondays are high


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("metric=bogus", "metric"),
        ("from=2026-11-30&to=2026-11-01", "to"),
        ("from=yesterday", "from"),
        ("course=nope", "course"),
    ],
)
def test_bad_trend_queries_get_a_400_naming_the_field(history, make_key, query, field):
    response = make_key("analytics:read").get(f"{TRENDS}?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


# --- who may read what ---------------------------------------------------------------------


@pytest.mark.parametrize("url", [FORECASTS, TRENDS])
def test_both_need_the_analytics_scope(history, make_key, url):
    response = make_key("scores:read").get(url)
    assert response.status_code == 403
    assert "analytics:read" in response.json()["detail"]


@pytest.mark.parametrize("url", [FORECASTS, TRENDS])
def test_students_get_a_403_and_visitors_a_401(history, url):
    assert session(UserFactory()).get(f"{url}?course=algebra-1").status_code == 403
    assert APIClient().get(url).status_code in (401, 403)


@pytest.mark.parametrize("url", [FORECASTS, TRENDS])
def test_instructors_read_their_own_course_only(history, url):
    instructor, _, _ = history
    client = session(instructor)
    assert client.get(f"{url}?course=algebra-1").status_code == 200
    assert client.get(f"{url}?course=other-1").status_code == 403
    assert client.get(url).status_code == 403  # the platform is staff-only


@pytest.mark.parametrize("url", [FORECASTS, TRENDS])
def test_staff_sessions_read_the_platform(history, url):
    staff = UserFactory(is_staff=True, role=User.Role.ADMIN)
    assert session(staff).get(url).status_code == 200


def test_both_are_listed_in_the_api_index(client):
    body = client.get("/api/v1/").json()
    assert body["analytics/forecasts"].endswith(FORECASTS)
    assert body["analytics/trends"].endswith(TRENDS)
