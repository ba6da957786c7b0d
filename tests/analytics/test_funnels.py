"""The nightly funnel of a course counts, converts and times each step of a hand-built
cohort of enrollments exactly."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from analytics.models import FunnelProgress
from analytics.selectors.funnels import funnel_steps
from analytics.services.funnels import funnels_compute
from learning.models import Enrollment
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
)

pytestmark = pytest.mark.django_db

T = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


def _learner(course, enrolled_at, *, started=None, lessons=(), lesson_times=(), completed=None):
    user = UserFactory()
    EnrollmentFactory(user=user, course=course, enrolled_at=enrolled_at)
    if started is not None:
        make_events(user, [("lesson_started", started)], course=course, lesson=lessons[0])
    for lesson, at in zip(lessons, lesson_times, strict=False):
        LessonProgressFactory(user=user, lesson=lesson, at=at, completed=True)
    Enrollment.objects.filter(user=user, course=course).update(completed_at=completed)
    return user


def test_funnel_of_an_enrollment_cohort_has_exact_counts_conversions_and_medians():
    course = CourseFactory()
    lessons = [LessonFactory(course=course, position=i) for i in range(4)]
    # A goes all the way; B completes one lesson; C never starts; D enrolled before the range.
    _learner(
        course,
        T,
        started=T + 1 * H,
        lessons=lessons,
        lesson_times=[T + 3 * H, T + 7 * H, T + 13 * H, T + 14 * H],
        completed=T + 24 * H,
    )
    _learner(course, T + D, started=T + D + 3 * H, lessons=lessons, lesson_times=[T + D + 4 * H])
    _learner(course, T + 2 * D)
    _learner(course, T - 30 * D, started=T - 30 * D + H, lessons=lessons)

    assert funnels_compute() == 4
    steps = funnel_steps(course, datetime.date(2026, 11, 1), datetime.date(2026, 11, 7))

    assert [(s.key, s.count) for s in steps] == [
        ("enrolled", 3),
        ("started", 2),
        ("first_lesson", 2),
        ("lessons_25", 2),  # 1 of 4 lessons
        ("lessons_50", 1),
        ("lessons_75", 1),
        ("completed", 1),
    ]
    assert [s.from_previous for s in steps] == [None, 2 / 3, 1, 1, 0.5, 1, 1]
    assert [s.from_top for s in steps] == [1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3]
    hours = [None if s.median_seconds is None else s.median_seconds / 3600 for s in steps]
    assert hours == [None, 2, 1.5, 0, 4, 6, 11]


def test_an_empty_range_has_no_one_at_any_step():
    course = CourseFactory()
    EnrollmentFactory(course=course, enrolled_at=T)
    funnels_compute()

    steps = funnel_steps(course, datetime.date(2025, 1, 1), datetime.date(2025, 1, 7))

    assert [s.count for s in steps] == [0] * 7
    assert all(s.from_top is None and s.median_seconds is None for s in steps)


# --- the page ------------------------------------------------------------------------------

RANGE = "range=custom&from=2026-11-01&to=2026-11-07"


def _signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def funnel_course():
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    course = CourseFactory(external_id="algebra-1", title="Algebra I", instructor=instructor)
    lessons = [LessonFactory(course=course, position=i) for i in range(2)]
    _learner(course, T, started=T + H, lessons=lessons, lesson_times=[T + 2 * H])
    _learner(course, T + D)
    funnels_compute()
    return course


def test_staff_see_the_steps_of_the_chosen_course_and_export_them(funnel_course):
    client = _signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))
    html = client.get(f"/dashboard/analytics/funnels/?course=algebra-1&{RANGE}").content.decode()
    assert "First lesson completed" in html and 'id="funnel"' in html

    response = client.get(f"/dashboard/analytics/funnels/?course=algebra-1&{RANGE}&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["step", "learners", "from_previous", "from_enrolled", "median_hours"]
    assert rows[1][:2] == ["Enrolled", "2"]
    assert rows[2] == ["Started", "1", "0.5", "0.5", "1.0"]


def test_an_instructor_sees_only_their_own_courses_funnel(funnel_course):
    other = UserFactory(role=User.Role.INSTRUCTOR)
    CourseFactory(external_id="poetry", title="Poetry", instructor=other)
    html = (
        _signed_in(other)
        .get(f"/dashboard/analytics/funnels/?course=algebra-1&{RANGE}")
        .content.decode()
    )
    assert "Algebra I" not in html
    owner = _signed_in(funnel_course.instructor)
    assert "Algebra I" in owner.get(f"/dashboard/analytics/funnels/?{RANGE}").content.decode()


def test_students_get_a_403_and_visitors_the_login_page(funnel_course):
    assert _signed_in(UserFactory()).get("/dashboard/analytics/funnels/").status_code == 403
    response = Client().get("/dashboard/analytics/funnels/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_course_without_enrollments_in_the_range_says_what_to_do(funnel_course):
    client = _signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))
    html = client.get(
        "/dashboard/analytics/funnels/?range=custom&from=2025-01-01&to=2025-01-07"
    ).content.decode()
    assert "No enrollments to follow" in html and "aggregate_analytics" in html


def test_aggregate_analytics_computes_the_funnels_too():
    EnrollmentFactory(enrolled_at=T)
    out = io.StringIO()

    call_command("aggregate_analytics", stdout=out)

    assert "funnels: 1 enrollments" in out.getvalue()
    assert FunnelProgress.objects.count() == 1


# --- GET /api/v1/analytics/funnels/ --------------------------------------------------------


def test_the_funnels_endpoint_answers_the_steps(funnel_course, make_key):
    response = make_key("analytics:read").get(
        "/api/v1/analytics/funnels/?course=algebra-1&from=2026-11-01&to=2026-11-07"
    )
    assert response.status_code == 200
    body = response.json()
    assert [(s["step"], s["learners"]) for s in body][:3] == [
        ("enrolled", 2),
        ("started", 1),
        ("first_lesson", 1),
    ]
    assert body[1]["median_seconds"] == 3600


@pytest.mark.parametrize(
    ("query", "field"), [("", "course"), ("course=nope", "course"), ("from=x", "from")]
)
def test_bad_funnel_queries_get_a_400_naming_the_field(make_key, query, field):
    response = make_key("analytics:read").get(f"/api/v1/analytics/funnels/?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]
