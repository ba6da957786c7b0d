"""The nightly retention cohorts and lifecycle, on a hand-built history: exact matrices across
week boundaries in three timezones, course and streak breakdowns, lifecycle counts, reruns."""

from __future__ import annotations

import datetime

import pytest

from analytics.models import LifecycleWeek, RetentionCell
from analytics.services.nightly import analytics_derive
from analytics.services.retention import retention_compute
from engagement.models import Event
from gamification.models import StreakDay
from tests.accounts.factories import UserFactory
from tests.analytics.history import utc
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = datetime.timedelta(days=1)
TODAY = D(2026, 11, 25)  # a Wednesday: the current week starts on Monday 23 November


@pytest.fixture
def history():
    """Three students whose local weeks differ from UTC's.

    tokyo (UTC+9) signs up Sunday 1 Nov 20:00 UTC, Monday 2 Nov in Tokyo: week of 2 Nov;
    active 8 Nov 16:00 UTC (Monday 9 Nov in Tokyo) in algebra and on 20 Nov.
    ny (UTC-5) signs up Monday 9 Nov 03:00 UTC, Sunday 8 Nov in New York: week of 2 Nov;
    active 3 Nov, 16 Nov 04:00 UTC (Sunday 15 Nov in New York) in biology, and 24 Nov.
    london_ (UTC) signs up 10 Nov; active every day 10-16 Nov in biology (a 7-day streak on
    16 Nov), then only a missed live session (not activity) on 24 Nov.
    """
    algebra = CourseFactory(external_id="algebra", title="Algebra")
    biology = CourseFactory(external_id="biology", title="Biology")
    tokyo = UserFactory(timezone="Asia/Tokyo", date_joined=utc(D(2026, 11, 1), 20))
    ny = UserFactory(timezone="America/New_York", date_joined=utc(D(2026, 11, 9), 3))
    london = UserFactory(timezone="UTC", date_joined=utc(D(2026, 11, 10), 12))
    EnrollmentFactory(user=tokyo, course=algebra, enrolled_at=utc(D(2026, 11, 1), 20))
    EnrollmentFactory(user=ny, course=biology, enrolled_at=utc(D(2026, 11, 16), 4))
    EnrollmentFactory(user=london, course=biology, enrolled_at=utc(D(2026, 11, 10), 12))
    EnrollmentFactory(user=london, course=algebra, enrolled_at=utc(D(2026, 11, 17), 9))
    make_events(
        tokyo,
        [
            ("login", utc(D(2026, 11, 8), 16), {}, {"course": algebra}),
            ("page_view", utc(D(2026, 11, 20), 10)),
        ],
    )
    make_events(
        ny,
        [
            ("login", utc(D(2026, 11, 3), 12)),
            ("page_view", utc(D(2026, 11, 16), 4), {}, {"course": biology}),
            ("login", utc(D(2026, 11, 24), 12)),
        ],
    )
    make_events(
        london,
        [("page_view", utc(D(2026, 11, 10) + n * DAY, 9)) for n in range(7)],
        course=biology,
    )
    make_events(london, [("live_session_missed", utc(D(2026, 11, 24), 9))])
    return {"algebra": algebra, "biology": biology, "tokyo": tokyo, "ny": ny, "london": london}


def matrix(kind: str, *, course=None, breakdown: str = "all") -> dict[tuple, tuple]:
    """(cohort week, breakdown value) -> (size, retained per week offset)."""
    out: dict[tuple, tuple] = {}
    cells = RetentionCell.objects.filter(
        cohort_kind=kind, course=course, breakdown=breakdown
    ).order_by("cohort_week", "breakdown_value", "week_offset")
    for cell in cells:
        key = (cell.cohort_week, cell.breakdown_value)
        size, retained = out.get(key, (cell.cohort_size, ()))
        assert size == cell.cohort_size
        out[key] = (size, (*retained, cell.retained))
    return out


def lifecycle(course=None) -> dict[D, tuple[int, int, int, int]]:
    return {
        w.week: (w.new, w.returning, w.resurrecting, w.dormant)
        for w in LifecycleWeek.objects.filter(course=course)
    }


def test_signup_cohorts_count_learner_local_weeks(history):
    retention_compute(today=TODAY)
    # The week of 2 Nov: tokyo and ny (both signed up on another UTC week). ny is active
    # that week, both the next (Monday in Tokyo, Sunday in New York), tokyo the one after,
    # ny again in the current week.
    assert matrix("signup") == {
        (D(2026, 11, 2), ""): (2, (1, 2, 1, 1)),
        (D(2026, 11, 9), ""): (1, (1, 1, 0)),
    }


def test_first_enrollment_cohorts_and_a_course_breakdown(history):
    retention_compute(today=TODAY)
    assert matrix("enrollment") == {
        (D(2026, 11, 2), ""): (1, (0, 1, 1, 0)),
        # ny enrolled on Sunday 15 Nov in New York; their activity before it is not counted.
        (D(2026, 11, 9), ""): (2, (2, 1, 1)),
    }
    # In a course only its own activity counts.
    assert matrix("enrollment", course=history["biology"]) == {
        (D(2026, 11, 9), ""): (2, (2, 1, 0)),
    }
    assert matrix("enrollment", course=history["algebra"]) == {
        (D(2026, 11, 2), ""): (1, (0, 1, 0, 0)),
        (D(2026, 11, 16), ""): (1, (0, 0)),
    }
    # A signup cohort in a course: the course's learners by their signup week.
    assert matrix("signup", course=history["biology"]) == {
        (D(2026, 11, 2), ""): (1, (0, 1, 0, 0)),
        (D(2026, 11, 9), ""): (1, (1, 1, 0)),
    }


def test_streak_and_timezone_breakdowns(history):
    assert StreakDay.objects.get(user=history["london"], date=D(2026, 11, 16)).run_length == 7
    retention_compute(today=TODAY)
    assert matrix("signup", breakdown="streak7") == {
        (D(2026, 11, 2), "no"): (2, (1, 2, 1, 1)),
        (D(2026, 11, 9), "yes"): (1, (1, 1, 0)),
    }
    assert matrix("signup", breakdown="timezone") == {
        (D(2026, 11, 2), "America/New_York"): (1, (1, 1, 0, 1)),
        (D(2026, 11, 2), "Asia/Tokyo"): (1, (0, 1, 1, 0)),
        (D(2026, 11, 9), "UTC"): (1, (1, 1, 0)),
    }
    assert matrix("signup", breakdown="league") == {
        (D(2026, 11, 2), "bronze"): (2, (1, 2, 1, 1)),
        (D(2026, 11, 9), "bronze"): (1, (1, 1, 0)),
    }


def test_lifecycle_new_returning_resurrecting_dormant(history):
    retention_compute(today=TODAY)
    assert lifecycle() == {
        D(2026, 11, 2): (1, 0, 0, 0),  # ny
        D(2026, 11, 9): (2, 1, 0, 0),  # tokyo and london new, ny returning
        D(2026, 11, 16): (0, 2, 0, 1),  # ny dormant
        D(2026, 11, 23): (0, 0, 1, 2),  # ny back; tokyo and london dormant
    }
    assert lifecycle(history["biology"]) == {
        D(2026, 11, 9): (2, 0, 0, 0),
        D(2026, 11, 16): (0, 1, 0, 1),
        D(2026, 11, 23): (0, 0, 0, 1),
    }


def test_a_rerun_replaces_the_rows_and_sees_new_activity(history):
    first = retention_compute(today=TODAY)
    before = matrix("signup")
    again = retention_compute(today=TODAY)
    assert again == first
    assert matrix("signup") == before
    assert RetentionCell.objects.count() == first.cells
    make_events(history["tokyo"], [("login", utc(D(2026, 11, 24), 1))])
    retention_compute(today=TODAY)
    assert matrix("signup")[D(2026, 11, 2), ""] == (2, (1, 2, 1, 2))
    assert Event.objects.filter(user=history["tokyo"]).count() == 3


def test_the_nightly_derivation_computes_retention(history):
    derived = analytics_derive()
    assert derived.retention.cells == RetentionCell.objects.count() > 0
    assert derived.retention.lifecycle_weeks == LifecycleWeek.objects.count() > 0
