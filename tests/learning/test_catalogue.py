"""learning's catalogue writes: provisional courses, lessons and enrollments, and upserts.

Events can name what no sync has sent yet; ingestion creates it provisionally through these
services, and a later sync fills it in. Runs on PostgreSQL and SQLite alike.
"""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.services import users_ensure_provisional
from core.bulk import PROBE_MAX_ROWS
from learning.models import Course, Enrollment, Lesson
from learning.services import (
    courses_ensure_provisional,
    courses_upsert,
    enrollments_ensure_provisional,
    enrollments_upsert,
    lessons_ensure_provisional,
    lessons_upsert,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def pair() -> tuple[int, int]:
    """A learner and a course, both known, with no enrollment between them."""
    user_id = users_ensure_provisional(external_ids={"u1"})["u1"]
    course_id = courses_ensure_provisional(external_ids={"c1"})["c1"]
    return user_id, course_id


def enrollment(pair: tuple[int, int]) -> Enrollment:
    return Enrollment.objects.get(user_id=pair[0], course_id=pair[1])


# --- provisional enrollments ------------------------------------------------------------------


def test_activity_enrolls_provisionally_from_its_earliest_moment(pair):
    enrollments_ensure_provisional(first_seen={pair: at(3)})

    stored = enrollment(pair)
    assert (stored.provisional, stored.status, stored.enrolled_at) == (True, "active", at(3))


def test_older_activity_moves_a_provisional_start_back_and_newer_does_not(pair):
    enrollments_ensure_provisional(first_seen={pair: at(5)})

    enrollments_ensure_provisional(first_seen={pair: at(2)})
    assert enrollment(pair).enrolled_at == at(2)

    enrollments_ensure_provisional(first_seen={pair: at(8)})
    assert enrollment(pair).enrolled_at == at(2)


def test_a_synced_enrollment_keeps_its_own_start(pair):
    enrollments_upsert(items=[{"user": "u1", "course": "c1", "enrolled_at": at(4)}])

    enrollments_ensure_provisional(first_seen={pair: at(1)})

    stored = enrollment(pair)
    assert (stored.provisional, stored.enrolled_at) == (False, at(4))


def test_a_sync_takes_over_a_provisional_enrollment(pair):
    enrollments_ensure_provisional(first_seen={pair: at(1)})

    result = enrollments_upsert(items=[{"user": "u1", "course": "c1", "status": "completed"}])

    stored = enrollment(pair)
    assert (result.created, result.updated) == (0, 1)
    assert (stored.provisional, stored.status, stored.enrolled_at) == (False, "completed", at(1))


def test_many_provisional_enrollments_at_once(pair):
    """More pairs than the per-row probe takes: the database plans the merge itself."""
    users = users_ensure_provisional(external_ids={f"x{i}" for i in range(PROBE_MAX_ROWS + 10)})
    course_id = pair[1]
    enrollments_ensure_provisional(first_seen={(users["x0"], course_id): at(5)})
    enrollments_upsert(items=[{"user": "x1", "course": "c1", "enrolled_at": at(6)}])

    enrollments_ensure_provisional(
        first_seen={(user_id, course_id): at(2) for user_id in users.values()}
    )

    assert Enrollment.objects.count() == len(users)
    assert Enrollment.objects.filter(provisional=True, enrolled_at=at(2)).count() == len(users) - 1
    assert Enrollment.objects.get(user_id=users["x1"]).enrolled_at == at(6)


# --- provisional courses and lessons ----------------------------------------------------------


def test_unknown_courses_are_created_provisionally_and_known_ones_found():
    courses_upsert(items=[{"external_id": "known", "title": "Known"}])

    ids = courses_ensure_provisional(external_ids=["known", "new", "new"])

    assert set(ids) == {"known", "new"}
    assert dict(Course.objects.values_list("external_id", "provisional")) == {
        "known": False,
        "new": True,
    }
    assert Course.objects.get(external_id="new").title == "new"
    assert courses_ensure_provisional(external_ids=["new"]) == {"new": ids["new"]}


def test_unknown_lessons_are_created_in_the_course_given_and_known_ones_keep_theirs():
    ids = courses_ensure_provisional(external_ids=["c1", "c2"])
    lessons_upsert(items=[{"external_id": "l-known", "course": "c1", "title": "Known"}])

    found = lessons_ensure_provisional(
        course_of={"l-known": ids["c2"], "l-new": ids["c2"], "l-nowhere": None}
    )

    known = Lesson.objects.get(external_id="l-known")
    new = Lesson.objects.get(external_id="l-new")
    assert found == {"l-known": (known.pk, ids["c1"]), "l-new": (new.pk, ids["c2"])}
    assert (new.provisional, new.course_id) == (True, ids["c2"])
    assert not Lesson.objects.filter(external_id="l-nowhere").exists()


def test_a_sync_fills_in_a_provisional_course():
    courses_ensure_provisional(external_ids=["c1"])

    result = courses_upsert(items=[{"external_id": "c1", "title": "Python 101"}])

    course = Course.objects.get(external_id="c1")
    assert (result.created, result.updated) == (0, 1)
    assert (course.title, course.provisional) == ("Python 101", False)
