"""The courses page (a table of every visible course, sortable, CSV, top-10 chart) and the
page of one course, with who may see which."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue
from analytics.services.retention import retention_compute
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
RANGE = "range=custom&from=2026-11-24&to=2026-11-30"


@pytest.fixture
def catalogue():
    """Two instructors: Ada teaches algebra (many enrollments, little revenue) and biology
    (few enrollments, much revenue); Ben teaches chemistry."""
    ada, ben = InstructorFactory(), InstructorFactory()
    algebra = CourseFactory(external_id="algebra", title="Algebra", instructor=ada)
    biology = CourseFactory(external_id="biology", title="Biology", instructor=ada)
    chemistry = CourseFactory(external_id="chemistry", title="Chemistry", instructor=ben)
    for back in range(7):
        day = END - back * DAY
        DailyAggregate.objects.create(day=day, dau=20, wau=40, mau=80, events=100)
        for course, enrollments, completions in (
            (algebra, 5, 1),
            (biology, 1, 1),
            (chemistry, 2, 0),
        ):
            DailyAggregate.objects.create(
                day=day,
                course=course,
                dau=3,
                wau=6,
                mau=10 + enrollments,
                enrollments=enrollments,
                completions=completions,
                starts=enrollments,
                rating_sum=4.0 * completions,
                rating_count=completions,
                median_days_to_complete=10.0 if completions else None,
            )
    DailyRevenue.objects.create(
        day=END, course=algebra, currency="EUR", amount=Decimal("10"), transactions=1
    )
    DailyRevenue.objects.create(
        day=END, course=biology, currency="EUR", amount=Decimal("300"), transactions=3
    )
    DailyRevenue.objects.create(
        day=END, course=biology, currency="USD", amount=Decimal("5"), transactions=1
    )
    return {"ada": ada, "ben": ben, "algebra": algebra, "biology": biology, "chemistry": chemistry}


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff() -> Client:
    return signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))


def titles_in_order(html: str, titles: list[str]) -> list[str]:
    table = html[html.index('id="courses-table"') :]
    return sorted(titles, key=lambda t: table.index(f">{t}</a>"))


def test_staff_see_every_course_top_enrollments_first(catalogue):
    page = staff().get(f"/dashboard/analytics/courses/?{RANGE}")
    assert page.status_code == 200
    html = page.content.decode()
    assert titles_in_order(html, ["Algebra", "Biology", "Chemistry"]) == [
        "Algebra",
        "Chemistry",
        "Biology",
    ]
    assert 'id="top-courses"' in html
    # Algebra: 35 enrollments, 7 completions (20%), MAU 15 on the last day.
    assert "<td>35</td>" in html and "20%" in html


def test_sorting_by_revenue_puts_the_biggest_earner_first(catalogue):
    html = staff().get(f"/dashboard/analytics/courses/?{RANGE}&sort=revenue").content.decode()
    assert titles_in_order(html, ["Algebra", "Biology"]) == ["Biology", "Algebra"]
    assert "Top 10 by revenue" in html
    assert "300.00 EUR" in html and "5.00 USD" in html


def test_an_unknown_sort_falls_back_to_enrollments(catalogue):
    html = staff().get(f"/dashboard/analytics/courses/?{RANGE}&sort=nope").content.decode()
    assert "Top 10 by enrollments" in html


def test_the_courses_export_as_csv_with_every_currency(catalogue):
    response = staff().get(f"/dashboard/analytics/courses/?{RANGE}&sort=revenue&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["course"] for r in rows] == ["biology", "algebra", "chemistry"]
    biology = rows[0]
    assert biology["enrollments"] == "7" and biology["completion_rate"] == "1.0"
    assert biology["revenue"] == "300.00 EUR; 5.00 USD"
    assert biology["average_rating"] == "4.0" and biology["median_days_to_complete"] == "10.0"
    assert rows[2]["revenue"] == "" and rows[2]["average_rating"] == ""


def test_a_rate_table_converts_the_revenue(catalogue, settings):
    settings.ANALYTICS_EXCHANGE_RATES = {"EUR": 1, "USD": "0.5"}
    response = staff().get(f"/dashboard/analytics/courses/?{RANGE}&format=csv")
    rows = {r["course"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert Decimal(rows["biology"]["converted_revenue"]) == Decimal("302.5")


def test_instructors_see_only_their_own_courses(catalogue):
    html = (
        signed_in(catalogue["ada"]).get(f"/dashboard/analytics/courses/?{RANGE}").content.decode()
    )
    assert "Algebra" in html and "Biology" in html
    assert "Chemistry" not in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                signed_in(catalogue["ben"])
                .get(f"/dashboard/analytics/courses/?{RANGE}&format=csv")
                .content.decode()
            )
        )
    )
    assert [r["course"] for r in rows] == ["chemistry"]


def test_students_get_a_403_on_every_course_page(catalogue):
    student = signed_in(UserFactory())
    assert student.get("/dashboard/analytics/courses/").status_code == 403
    assert student.get("/dashboard/analytics/courses/algebra/").status_code == 403


def test_a_range_with_nothing_says_so(catalogue):
    html = staff().get("/dashboard/analytics/courses/?range=custom&from=2025-01-01&to=2025-01-07")
    assert "Nothing happened in these courses in this range" in html.content.decode()


def test_the_course_page_shows_its_activity_revenue_rating_and_funnel_link(catalogue):
    page = staff().get(f"/dashboard/analytics/courses/biology/?{RANGE}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="active-learners"' in html and 'id="enrollments"' in html
    assert "300.00 EUR" in html
    assert ">4.0<" in html  # the average rating
    assert (
        'href="/dashboard/analytics/funnels/?range=custom&amp;from=2026-11-24&amp;to=2026-11-30'
        '&amp;course=biology"' in html
    )
    # The export link is the page's own query with format=csv (not a quoted dict).
    assert 'href="?range=custom&amp;from=2026-11-24&amp;to=2026-11-30&amp;format=csv"' in html
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                staff()
                .get(f"/dashboard/analytics/courses/biology/?{RANGE}&format=csv")
                .content.decode()
            )
        )
    )
    assert len(csv_rows) == 7 and csv_rows[-1]["mau"] == "11"


def test_the_course_page_is_404_for_an_unknown_course_and_403_for_another_instructors(catalogue):
    ada = signed_in(catalogue["ada"])
    assert ada.get("/dashboard/analytics/courses/nope/").status_code == 404
    assert ada.get("/dashboard/analytics/courses/chemistry/").status_code == 403
    assert ada.get("/dashboard/analytics/courses/algebra/").status_code == 200


def test_a_course_without_rows_shows_an_empty_state():
    CourseFactory(external_id="quiet", title="Quiet")
    html = staff().get("/dashboard/analytics/courses/quiet/").content.decode()
    assert "Nothing to show for this range" in html


def test_week_one_retention_comes_from_the_courses_enrollment_cohorts(catalogue):
    chemistry = catalogue["chemistry"]
    monday = datetime.datetime(2026, 11, 23, 12, tzinfo=datetime.UTC)
    for i in range(4):
        learner = UserFactory(timezone="UTC")
        EnrollmentFactory(user=learner, course=chemistry, enrolled_at=monday)
        # All four start that week; three come back the week after.
        events = [("page_view", monday + DAY)] + (
            [("page_view", monday + 8 * DAY)] if i < 3 else []
        )
        make_events(learner, events, course=chemistry)
    retention_compute(today=datetime.date(2026, 12, 4))

    html = staff().get(f"/dashboard/analytics/courses/?{RANGE}&sort=week1_retention")

    page = html.content.decode()
    assert titles_in_order(page, ["Chemistry", "Algebra"]) == ["Chemistry", "Algebra"]
    assert "<td>75%</td>" in page and "Top 10 by week-1 retention" in page
    response = staff().get(f"/dashboard/analytics/courses/?{RANGE}&format=csv")
    rows = {r["course"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["chemistry"]["week1_retention"] == "0.75"
    assert rows["algebra"]["week1_retention"] == ""
    api = staff().get(
        "/api/v1/analytics/courses/?from=2026-11-24&to=2026-11-30&sort=week1_retention"
    )
    assert [(r["course"], r["week1_retention"]) for r in api.json()["results"]][:2] == [
        ("chemistry", 0.75),
        ("algebra", None),
    ]
