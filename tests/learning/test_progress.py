"""learning's progress merges: lesson progress and enrollment status, applied by the database.

The same rules hold on PostgreSQL (COPY, then a merge that skips unchanged rows) and SQLite
(multi-row INSERT ... ON CONFLICT): the suite runs on both.
"""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.services import users_ensure_provisional
from core.bulk import PROBE_MAX_ROWS
from learning.models import Enrollment, LessonProgress
from learning.services import (
    courses_upsert,
    enrollments_record_status,
    enrollments_upsert,
    lesson_progress_merge,
    lesson_progress_record,
    lessons_upsert,
    progress_percent,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def learner() -> int:
    return users_ensure_provisional(external_ids={"u1"})["u1"]


@pytest.fixture
def lesson() -> int:
    courses_upsert(items=[{"external_id": "c1", "title": "Python"}])
    result = lessons_upsert(items=[{"external_id": "l1", "course": "c1", "title": "Intro"}])
    return result.objects[0].pk


def progress(user_id: int, lesson_id: int) -> tuple[datetime | None, datetime | None, int]:
    row = LessonProgress.objects.get(user_id=user_id, lesson_id=lesson_id)
    return row.started_at, row.completed_at, row.percent


# --- lesson progress --------------------------------------------------------------------------


def test_any_activity_starts_a_lesson(learner, lesson):
    seen = lesson_progress_record(observations=[(learner, lesson, at(1), None, False)])

    assert seen == 1
    assert progress(learner, lesson) == (at(1), None, 0)


def test_the_earliest_start_wins_against_stored_progress(learner, lesson):
    lesson_progress_record(observations=[(learner, lesson, at(5), 30, False)])

    lesson_progress_record(observations=[(learner, lesson, at(2), 10, False)])  # older history
    assert progress(learner, lesson) == (at(2), None, 30)

    lesson_progress_record(observations=[(learner, lesson, at(9), 20, False)])  # newer activity
    assert progress(learner, lesson) == (at(2), None, 30)


def test_the_percent_only_rises(learner, lesson):
    lesson_progress_record(observations=[(learner, lesson, at(1), 60.4, False)])
    assert progress(learner, lesson)[2] == 60

    lesson_progress_record(observations=[(learner, lesson, at(2), 25, False)])
    assert progress(learner, lesson)[2] == 60

    lesson_progress_record(observations=[(learner, lesson, at(3), 80, False)])
    assert progress(learner, lesson)[2] == 80


def test_the_earliest_completion_wins_and_counts_as_100_percent(learner, lesson):
    lesson_progress_record(observations=[(learner, lesson, at(6), None, True)])
    assert progress(learner, lesson) == (at(6), at(6), 100)

    lesson_progress_record(observations=[(learner, lesson, at(4), None, True)])
    assert progress(learner, lesson) == (at(4), at(4), 100)

    # A later completion and a lower position change nothing.
    lesson_progress_record(
        observations=[(learner, lesson, at(8), None, True), (learner, lesson, at(9), 40, False)]
    )
    assert progress(learner, lesson) == (at(4), at(4), 100)


def test_activity_after_a_completion_keeps_it(learner, lesson):
    lesson_progress_record(observations=[(learner, lesson, at(3), None, True)])

    lesson_progress_record(observations=[(learner, lesson, at(1), 10, False)])

    assert progress(learner, lesson) == (at(1), at(3), 100)


def test_observations_of_one_batch_fold_in_any_order(learner, lesson):
    seen = lesson_progress_record(
        observations=[
            (learner, lesson, at(3), 40, False),
            (learner, lesson, at(6), None, True),
            (learner, lesson, at(2), 25, False),
            (learner, lesson, at(5), None, True),
        ]
    )

    assert seen == 1
    assert progress(learner, lesson) == (at(2), at(5), 100)


def test_a_replayed_batch_changes_nothing(learner, lesson):
    batch = [(learner, lesson, at(2), 25, False), (learner, lesson, at(3), 70, False)]
    lesson_progress_record(observations=batch)
    before = progress(learner, lesson)

    lesson_progress_record(observations=batch)

    assert progress(learner, lesson) == before == (at(2), None, 70)


def test_totals_merge_by_the_same_rules(learner, lesson):
    lesson_progress_merge(progress=[(learner, lesson, at(4), None, 50)])

    seen = lesson_progress_merge(
        progress=[(learner, lesson, at(6), at(7), 100), (learner, lesson, at(3), None, 20)]
    )

    assert seen == 1
    assert progress(learner, lesson) == (at(3), at(7), 100)


def test_progress_percent_is_whole_and_between_0_and_100():
    assert [progress_percent(p) for p in (None, -5, 0, 49.5, 50.4, 99.6, 250)] == [
        0,
        0,
        0,
        50,
        50,
        100,
        100,
    ]


def test_a_large_merge_applies_the_same_rules(lesson):
    """More rows than the per-row probe takes: the database plans the merge itself."""
    users = users_ensure_provisional(external_ids={f"u{i}" for i in range(PROBE_MAX_ROWS + 10)})
    ids = sorted(users.values())
    lesson_progress_record(observations=[(ids[0], lesson, at(5), 50, False)])
    lesson_progress_record(observations=[(ids[1], lesson, at(5), None, True)])

    seen = lesson_progress_record(
        observations=[(user_id, lesson, at(2), 30, False) for user_id in ids]
    )

    assert seen == len(ids)
    assert LessonProgress.objects.count() == len(ids)
    assert progress(ids[0], lesson) == (at(2), None, 50)
    assert progress(ids[1], lesson) == (at(2), at(5), 100)
    assert progress(ids[-1], lesson) == (at(2), None, 30)


# --- enrollment status ------------------------------------------------------------------------


@pytest.fixture
def enrollment(learner, lesson) -> Enrollment:
    (stored,) = enrollments_upsert(
        items=[{"user": "u1", "course": "c1", "enrolled_at": at(0)}]
    ).objects
    return Enrollment.objects.get(pk=stored.pk)


def status(enrollment: Enrollment) -> tuple[str, datetime | None, datetime | None]:
    enrollment.refresh_from_db()
    return enrollment.status, enrollment.completed_at, enrollment.withdrawn_at


def test_a_completion_completes_the_enrollment(enrollment):
    key = (enrollment.user_id, enrollment.course_id)

    changed = enrollments_record_status(changes=[(*key, "completed", at(5))])

    assert changed == 1
    assert status(enrollment) == ("completed", at(5), None)


def test_status_changes_apply_in_time_order_whatever_order_they_come_in(enrollment):
    key = (enrollment.user_id, enrollment.course_id)

    enrollments_record_status(
        changes=[(*key, "completed", at(9)), (*key, "withdrawn", at(4))]  # withdrew, came back
    )

    assert status(enrollment) == ("completed", at(9), None)


def test_history_older_than_the_current_status_is_skipped(enrollment):
    key = (enrollment.user_id, enrollment.course_id)
    enrollments_record_status(changes=[(*key, "withdrawn", at(6))])

    changed = enrollments_record_status(changes=[(*key, "completed", at(2))])  # a late backfill

    assert changed == 0
    assert status(enrollment) == ("withdrawn", None, at(6))


def test_the_same_status_again_changes_nothing(enrollment):
    key = (enrollment.user_id, enrollment.course_id)
    enrollments_record_status(changes=[(*key, "completed", at(3))])

    changed = enrollments_record_status(changes=[(*key, "completed", at(7))])

    assert changed == 0
    assert status(enrollment) == ("completed", at(3), None)


def test_a_status_change_without_an_enrollment_changes_nothing(learner, lesson):
    course_id = courses_upsert(items=[{"external_id": "c2", "title": "Other"}]).objects[0].pk

    assert enrollments_record_status(changes=[(learner, course_id, "completed", at(1))]) == 0
    assert not Enrollment.objects.exists()


def test_only_completions_and_withdrawals_are_status_changes(enrollment):
    with pytest.raises(ValueError, match="not a status change"):
        enrollments_record_status(
            changes=[(enrollment.user_id, enrollment.course_id, "active", at(1))]
        )
