"""The at-risk share per day and scope, from the day's latest completed scoring run, stored on
the aggregates and shown on the overview and the course page."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.models import DailyAggregate
from analytics.services.aggregates import aggregates_compute, aggregates_refresh
from engagement.models import EngagementScore, ScoringRun
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

LOW, HIGH, CRITICAL = (EngagementScore.Level.LOW, EngagementScore.Level.HIGH, "critical")


def run_of(day: datetime.date, finished: datetime.datetime, *, status: str = "done") -> ScoringRun:
    return ScoringRun.objects.create(
        as_of=day, status=status, started_at=finished, finished_at=finished
    )


def score(run: ScoringRun, user: User, course, level: str) -> None:
    risk = {"low": 10, "medium": 40, "high": 70, "critical": 90}[level]
    EngagementScore.objects.create(
        run=run,
        user=user,
        course=course,
        as_of=run.as_of,
        drop_off_risk=risk,
        weekly_risk=risk,
        monthly_risk=risk,
        confidence=50,
        level=level,
    )


@pytest.fixture
def scored():
    """Ada's algebra and biology, Ben's chemistry. Learner 1 is high in algebra and low in
    biology; learner 2 low in biology; learner 3 critical in chemistry. An earlier run of the
    same day rated everyone critical, a later one failed: neither counts."""
    day = timezone.now().date() - datetime.timedelta(days=3)
    ada, ben = InstructorFactory(), InstructorFactory()
    algebra = CourseFactory(external_id="algebra", instructor=ada)
    biology = CourseFactory(external_id="biology", instructor=ada)
    chemistry = CourseFactory(external_id="chemistry", instructor=ben)
    one, two, three = UserFactory(), UserFactory(), UserFactory()
    noon = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    earlier = run_of(day, noon - datetime.timedelta(hours=6))
    latest = run_of(day, noon)
    failed = run_of(day, noon + datetime.timedelta(hours=1), status="failed")
    pairs = [(one, algebra), (one, biology), (two, biology), (three, chemistry)]
    for user, course in pairs:
        EnrollmentFactory(user=user, course=course, enrolled_at=noon - datetime.timedelta(days=9))
    for run, levels in (
        (earlier, [CRITICAL] * 4),
        (latest, [HIGH, LOW, LOW, CRITICAL]),
        (failed, [CRITICAL] * 4),
    ):
        for (user, course), level in zip(pairs, levels, strict=True):
            score(run, user, course, level)
    return {
        "day": day,
        "ada": ada,
        "ben": ben,
        "algebra": algebra,
        "biology": biology,
        "chemistry": chemistry,
        "one": one,
    }


def figures(**scope) -> tuple[int, int]:
    row = DailyAggregate.objects.get(**scope)
    return row.scored_learners, row.at_risk_learners


def test_each_scope_counts_the_days_latest_completed_run(scored):
    day = scored["day"]
    aggregates_compute(day, day)

    assert figures(day=day, course=None, instructor=None) == (3, 2)
    assert figures(day=day, course=scored["algebra"]) == (1, 1)
    assert figures(day=day, course=scored["biology"]) == (2, 0)
    assert figures(day=day, course=scored["chemistry"]) == (1, 1)
    # Learner one is in two of Ada's courses: scored once, at risk once (high in one).
    assert figures(day=day, instructor=scored["ada"]) == (2, 1)
    assert figures(day=day, instructor=scored["ben"]) == (1, 1)
    yesterday = DailyAggregate(scored_learners=0)
    assert yesterday.at_risk_share is None


def test_a_run_finished_after_the_last_refresh_is_counted_by_the_next(scored):
    day = scored["day"]
    aggregates_refresh()
    assert figures(day=day, course=scored["biology"]) == (2, 0)

    rerun = run_of(day, timezone.now())
    score(rerun, scored["one"], scored["biology"], HIGH)
    aggregates_refresh()

    assert figures(day=day, course=scored["biology"]) == (1, 1)
    assert figures(day=day, course=None, instructor=None) == (1, 1)


def test_the_overview_and_the_course_page_show_the_share(scored):
    day = scored["day"]
    aggregates_compute(day, day)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, role=User.Role.ADMIN))
    query = f"range=custom&from={day - datetime.timedelta(days=6)}&to={day}"

    overview = staff.get(f"/dashboard/analytics/?{query}").content.decode()
    card = overview[overview.index('id="at-risk"') :]
    assert '<div class="stat-value">67%</div>' in card[:200]
    assert "2 of 3 scored learners" in card

    ada = Client()
    ada.force_login(scored["ada"])
    page = ada.get(f"/dashboard/analytics/courses/algebra/?{query}").content.decode()
    card = page[page.index('id="at-risk"') :]
    assert '<div class="stat-value">100%</div>' in card[:200]
    assert "1 of 1 scored learner high" in card
