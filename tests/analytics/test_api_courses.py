"""GET /api/v1/analytics/courses/, /courses/<id>/, /instructors/ and /revenue/: who reads what,
the documented 400s, pagination."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
RANGE = "from=2026-11-24&to=2026-11-30"


@pytest.fixture
def catalogue():
    ada, ben = InstructorFactory(), InstructorFactory()
    algebra = CourseFactory(external_id="algebra", title="Algebra", instructor=ada)
    chemistry = CourseFactory(external_id="chemistry", title="Chemistry", instructor=ben)
    for back in range(7):
        day = END - back * DAY
        DailyAggregate.objects.create(day=day, mau=50, enrollments=4)
        DailyAggregate.objects.create(day=day, course=algebra, dau=2, mau=9, enrollments=3)
        DailyAggregate.objects.create(day=day, course=chemistry, dau=1, mau=4, enrollments=1)
        DailyAggregate.objects.create(day=day, instructor=ada, mau=9, enrollments=3)
        DailyAggregate.objects.create(day=day, instructor=ben, mau=4, enrollments=1)
    for scope, eur, usd in (
        ({}, "35", "10"),
        ({"course": algebra}, "20", "8"),
        ({"instructor": ada}, "25", "9"),
    ):
        DailyRevenue.objects.create(
            day=END, currency="EUR", amount=Decimal(eur), transactions=4, **scope
        )
        DailyRevenue.objects.create(
            day=END - DAY, currency="USD", amount=Decimal(usd), transactions=1, **scope
        )
    return {"ada": ada, "ben": ben, "algebra": algebra, "chemistry": chemistry}


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_a_key_reads_every_course_sorted_and_paginated(catalogue, make_key):
    client = make_key("analytics:read")
    body = client.get(f"/api/v1/analytics/courses/?{RANGE}").json()
    assert body["count"] == 2
    assert [(r["course"], r["enrollments"], r["active_learners"]) for r in body["results"]] == [
        ("algebra", 21, 9),
        ("chemistry", 7, 4),
    ]
    assert body["results"][0]["revenue"][0]["currency"] == "EUR"
    page = client.get(f"/api/v1/analytics/courses/?{RANGE}&page_size=1&page=2").json()
    assert [r["course"] for r in page["results"]] == ["chemistry"]


def test_instructors_read_only_their_own_courses_and_students_nothing(catalogue):
    ada = session(catalogue["ada"])
    body = ada.get(f"/api/v1/analytics/courses/?{RANGE}").json()
    assert [r["course"] for r in body["results"]] == ["algebra"]
    assert ada.get(f"/api/v1/analytics/courses/algebra/?{RANGE}").status_code == 200
    assert ada.get(f"/api/v1/analytics/courses/chemistry/?{RANGE}").status_code == 403
    assert ada.get(f"/api/v1/analytics/revenue/?{RANGE}&course=chemistry").status_code == 403
    assert ada.get("/api/v1/analytics/instructors/").status_code == 403
    student = session(UserFactory())
    for url in ("courses/", "courses/algebra/", "instructors/", "revenue/"):
        assert student.get(f"/api/v1/analytics/{url}").status_code == 403


def test_staff_read_every_course(catalogue):
    staff = session(UserFactory(is_staff=True, role=User.Role.ADMIN))
    body = staff.get(f"/api/v1/analytics/courses/?{RANGE}").json()
    assert {r["course"] for r in body["results"]} == {"algebra", "chemistry"}


def test_a_courses_daily_series(catalogue, make_key):
    response = make_key("analytics:read").get(
        "/api/v1/analytics/courses/algebra/?from=2026-11-29&to=2026-11-30"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["course"] == "algebra"
    assert [(d["date"], d["dau"], d["mau"]) for d in body["days"]] == [
        ("2026-11-29", 2, 9),
        ("2026-11-30", 2, 9),
    ]
    missing = make_key("analytics:read").get("/api/v1/analytics/courses/nope/")
    assert missing.status_code == 404


def test_the_instructors_endpoint_is_for_keys_and_staff(catalogue, make_key):
    body = make_key("analytics:read").get(f"/api/v1/analytics/instructors/?{RANGE}").json()
    rows = {r["instructor"]: r for r in body["results"]}
    assert rows[catalogue["ada"].external_id]["active_learners"] == 9
    assert rows[catalogue["ben"].external_id]["enrollments"] == 7
    staff = session(UserFactory(is_staff=True, role=User.Role.ADMIN))
    assert staff.get("/api/v1/analytics/instructors/").status_code == 200


def test_revenue_per_currency_with_the_average_and_per_day(catalogue, make_key, settings):
    client = make_key("analytics:read")
    body = client.get(f"/api/v1/analytics/revenue/?{RANGE}").json()
    assert [(t["currency"], t["amount"], t["transactions"]) for t in body["per_currency"]] == [
        ("EUR", "35.0000", 4),
        ("USD", "10.0000", 1),
    ]
    assert body["per_currency"][0]["average_transaction"] == "8.7500"
    assert body["converted_total"] is None and body["unconverted"] == ["EUR", "USD"]
    assert [(d["date"], d["currency"]) for d in body["days"]] == [
        ("2026-11-29", "USD"),
        ("2026-11-30", "EUR"),
    ]
    settings.ANALYTICS_EXCHANGE_RATES = {"EUR": 1, "USD": "0.5"}
    course = client.get(f"/api/v1/analytics/revenue/?{RANGE}&course=algebra").json()
    assert Decimal(course["converted_total"]) == Decimal("24")


def test_an_instructors_revenue_is_their_courses_together(catalogue):
    body = session(catalogue["ada"]).get(f"/api/v1/analytics/revenue/?{RANGE}").json()
    assert [t["amount"] for t in body["per_currency"]] == ["25.0000", "9.0000"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("courses/?from=2026-11-30&to=2026-11-01", "to"),
        ("courses/?sort=fame", "sort"),
        ("courses/algebra/?from=yesterday", "from"),
        ("instructors/?from=2020-01-01&to=2026-11-30", "to"),
        ("revenue/?course=nope", "course"),
        ("courses/?page_size=0", "page_size"),
    ],
)
def test_bad_queries_get_a_400_naming_the_field(catalogue, make_key, url, field):
    response = make_key("analytics:read").get(f"/api/v1/analytics/{url}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_endpoints_need_the_analytics_scope(make_key):
    response = make_key("scores:read").get("/api/v1/analytics/courses/")
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["courses/", "courses/algebra/", "instructors/", "revenue/"])
def test_the_browsable_api_draws_every_analytics_list_for_staff(catalogue, path):
    client = session(UserFactory(is_staff=True, role=User.Role.ADMIN))
    page = client.get(f"/api/v1/analytics/{path}?{RANGE}", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "HTTP 200 OK" in page.content.decode()
