"""Fixtures for the engagement dashboard and at-risk API tests."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from engagement.models import EngagementScore, ScoringRun
from learning.models import Course
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score
from tests.learning.factories import CourseFactory, EnrollmentFactory

AS_OF = datetime.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Run summaries are cached per run; keep one test's summaries out of the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def student(db) -> User:
    return UserFactory(email="student@example.com", first_name="Sam", last_name="Student")


@pytest.fixture
def student_client(student) -> Client:
    client = Client()
    client.force_login(student)
    return client


@pytest.fixture
def page_client(staff_user) -> Client:
    """A browser-like client signed in as staff (no API client conveniences)."""
    client = Client()
    client.force_login(staff_user)
    return client


@dataclass
class ScoredWorld:
    """Five learners, six enrolments scored in the current run (see the `scored` fixture)."""

    run: ScoringRun
    old_run: ScoringRun
    course: Course
    other_course: Course
    learners: dict[str, User]
    scores: dict[str, EngagementScore]


DRIVERS = [
    {
        "signal": "recency_days",
        "label": "Days since the last event",
        "text": "No activity for 12 days (the course's typical gap is 3)",
        "value": 12,
        "contribution": 1.4,
    },
    {
        "signal": "events_7d",
        "label": "Events in the last 7 days",
        "text": "Only 1 event this week (typical: 9)",
        "value": 1,
        "contribution": 0.8,
    },
    {
        "signal": "quiz_mean_score",
        "label": "Mean quiz score",
        "text": "Quiz scores average 90% (typical: 70%)",
        "value": 0.9,
        "contribution": -0.3,
    },
]
RECOMMENDATIONS = [
    {"code": "gentle_reminder", "label": "Gentle reminder", "reason": "Gone 12 days"},
    {"code": "human_outreach", "label": "Human outreach", "reason": "Risk is critical"},
]
SIGNALS = {"recency_days": 12.0, "events_7d": 1.0, "quiz_mean_score": 0.9, "legacy_signal": 3}


@pytest.fixture
def scored(db) -> ScoredWorld:
    """Hand-checkable scores, one per enrolment.

    Current run (as of 2 March), in "py101": ada 92 critical, cy 61 high, eve 10 low; in
    "js201": ben 75 high, dee 45 medium, ada 20 low. So ada is in two courses, and her
    learner-level risk is 92 (py101). An older run (1 March) gave ada 50 in py101 and ben 70
    in js201; a pending run has no scores.
    """
    course = CourseFactory(external_id="py101", title="Python 101")
    other = CourseFactory(external_id="js201", title="JavaScript 201")
    names = {"ada": 92, "ben": 75, "cy": 61, "dee": 45, "eve": 10}
    learners = {
        name: UserFactory(
            email=f"{name}@example.com",
            external_id=f"ext-{name}",
            first_name=name.capitalize(),
            last_name="Learner",
        )
        for name in names
    }
    course_of = {"ada": course, "ben": other, "cy": course, "dee": other, "eve": course}
    for name, enrolled in course_of.items():
        EnrollmentFactory(user=learners[name], course=enrolled)
    EnrollmentFactory(user=learners["ada"], course=other)

    old_run = make_run(AS_OF - datetime.timedelta(days=1))
    make_score(old_run, learners["ada"], 50, course=course)
    make_score(old_run, learners["ben"], 70, course=other)
    run = make_run(AS_OF)
    scores = {}
    for name, risk in names.items():
        scores[name] = make_score(
            run, learners[name], risk, course=course_of[name], drivers=DRIVERS[:2]
        )
    scores["ada_js"] = make_score(run, learners["ada"], 20, course=other, drivers=DRIVERS[2:])
    ada = scores["ada"]
    ada.drivers = DRIVERS
    ada.recommendations = RECOMMENDATIONS
    ada.signals = SIGNALS
    ada.save(update_fields=["drivers", "recommendations", "signals"])
    make_run(AS_OF + datetime.timedelta(days=1), status=ScoringRun.Status.PENDING)
    return ScoredWorld(
        run=run,
        old_run=old_run,
        course=course,
        other_course=other,
        learners=learners,
        scores=scores,
    )
