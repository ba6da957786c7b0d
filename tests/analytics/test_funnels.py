"""The nightly funnel of a course counts, converts and times each step of a hand-built
cohort of enrollments exactly."""

from __future__ import annotations

import datetime

import pytest

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
