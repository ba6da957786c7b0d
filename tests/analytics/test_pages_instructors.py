"""The instructors page: staff only, one row per instructor from the instructor-scope rows,
sortable, CSV, top-10 chart."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
RANGE = "range=custom&from=2026-11-24&to=2026-11-30"


@pytest.fixture
def instructors():
    ada = InstructorFactory(first_name="Ada", last_name="Lovelace")
    ben = InstructorFactory(first_name="Ben", last_name="Okri")
    CourseFactory(instructor=ada)
    CourseFactory(instructor=ada)
    CourseFactory(instructor=ben)
    for back in range(7):
        day = END - back * DAY
        DailyAggregate.objects.create(day=day, dau=20, wau=40, mau=80)
        # Ada's 12 learners (in two courses, some in both) and 2 enrollments a day; Ben's
        # 30 learners and 1 enrollment a day.
        DailyAggregate.objects.create(
            day=day,
            instructor=ada,
            mau=12,
            enrollments=2,
            completions=1,
            rating_sum=9,
            rating_count=2,
        )
        DailyAggregate.objects.create(day=day, instructor=ben, mau=30, enrollments=1)
    DailyRevenue.objects.create(
        day=END, instructor=ben, currency="EUR", amount=Decimal("42"), transactions=2
    )
    return ada, ben


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff() -> Client:
    return signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))


def test_staff_see_one_row_per_instructor_sortable(instructors):
    page = staff().get(f"/dashboard/analytics/instructors/?{RANGE}")
    assert page.status_code == 200
    html = page.content.decode()
    table = html[html.index('id="instructors-table"') :]
    assert table.index("Ada Lovelace") < table.index("Ben Okri")  # 14 enrollments against 7
    assert 'id="top-instructors"' in html
    by_active = staff().get(f"/dashboard/analytics/instructors/?{RANGE}&sort=active_learners")
    table = by_active.content.decode()
    table = table[table.index('id="instructors-table"') :]
    assert table.index("Ben Okri") < table.index("Ada Lovelace")


def test_the_instructors_export_as_csv(instructors):
    response = staff().get(f"/dashboard/analytics/instructors/?{RANGE}&format=csv")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    ada, ben = rows["Ada Lovelace"], rows["Ben Okri"]
    assert (ada["courses"], ada["active_learners"], ada["enrollments"]) == ("2", "12", "14")
    assert ada["completion_rate"] == "0.5" and ada["average_rating"] == "4.5"
    assert ben["revenue"] == "42.00 EUR" and ada["revenue"] == ""


def test_instructors_and_students_get_a_403_and_no_tab(instructors):
    ada, _ = instructors
    assert signed_in(ada).get("/dashboard/analytics/instructors/").status_code == 403
    assert signed_in(UserFactory()).get("/dashboard/analytics/instructors/").status_code == 403
    courses = signed_in(ada).get("/dashboard/analytics/courses/").content.decode()
    assert "/dashboard/analytics/instructors/" not in courses
    assert (
        "/dashboard/analytics/instructors/"
        in staff().get("/dashboard/analytics/courses/").content.decode()
    )


def test_no_instructor_says_so():
    html = staff().get("/dashboard/analytics/instructors/").content.decode()
    assert "No instructor to show" in html
