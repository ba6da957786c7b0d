"""learner_activity: the bulk activity tensor per enrolment, checked against a hand-computed
timeline (the same numbers on PostgreSQL and SQLite: this module runs on both)."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from engagement.models import Event
from engagement.scoring.activity import KIND_INDEX
from engagement.selectors.activity import (
    enrolment_daily_events,
    enrolment_withdrawals,
    learner_activity,
)
from learning.services import enrollments_upsert
from tests.accounts.factories import UserFactory
from tests.learning.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
)

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 3, 10)
W = 28
LAST = W - 1  # day index of AS_OF


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


def events(user, *specs, course=None) -> None:
    """Store events as ingestion would; a spec's 4th item overrides ``course``."""
    start = Event.objects.filter(user=user).count()
    Event.objects.bulk_create(
        Event(
            source="t",
            client_id=f"{user.pk}-{start + i}",
            type=spec[0],
            user=user,
            course=spec[3] if len(spec) > 3 else course,
            occurred_at=spec[1],
            properties=spec[2] if len(spec) > 2 else {},
        )
        for i, spec in enumerate(specs)
    )


@pytest.fixture
def world() -> dict:
    tokyo = UserFactory(timezone="Asia/Tokyo")
    london = UserFactory(timezone="UTC")
    new_york = UserFactory(timezone="America/New_York")
    only_later = UserFactory()
    finished = UserFactory()
    missed_only = UserFactory()
    no_enrolment = UserFactory()
    never = UserFactory()
    gone = UserFactory()
    course = CourseFactory(ends_on=AS_OF + datetime.timedelta(days=20))
    art = CourseFactory()  # self-paced
    lessons = [LessonFactory(external_id=f"l{i}", course=course, title="L") for i in range(4)]
    art_lesson = LessonFactory(external_id="art-1", course=art, title="A")
    EnrollmentFactory(user=tokyo, course=course, enrolled_at=utc(2026, 3, 1, 12))
    EnrollmentFactory(user=tokyo, course=art, enrolled_at=utc(2026, 2, 20, 12))
    LessonProgressFactory(user=tokyo, lesson=lessons[0], at=utc(2026, 3, 4), completed=True)
    LessonProgressFactory(user=tokyo, lesson=lessons[1], at=utc(2026, 3, 12), completed=True)
    LessonProgressFactory(user=tokyo, lesson=art_lesson, at=utc(2026, 3, 3), completed=True)
    for user in (london, new_york, only_later, missed_only, never, gone):
        EnrollmentFactory(user=user, course=course, enrolled_at=utc(2026, 2, 1))
    EnrollmentFactory(
        user=finished,
        course=course,
        status="completed",
        enrolled_at=utc(2026, 2, 1),
        completed_at=utc(2026, 3, 9),
    )
    events(
        tokyo,
        ("login", utc(2026, 3, 9, 23, 30), {}, None),  # 08:30 on 10 March in Tokyo; no course
        ("quiz_submitted", utc(2026, 3, 5, 3), {"score": 8, "max_score": 10}),
        ("x-later", utc(2026, 3, 10, 16)),  # 01:00 on 11 March in Tokyo: after as_of
        ("page_view", utc(2026, 3, 2, 1), {}, art),  # 10:00 on 2 March, in the art course
        course=course,
    )
    events(
        london,
        ("x-first", utc(2026, 1, 1, 9)),  # before the window: only first/last sight
        ("session_end", utc(2026, 3, 8, 10), {"duration_seconds": 600}),
        ("live_session_missed", utc(2026, 3, 9, 10)),
        ("video_progress", utc(2026, 3, 10, 23, 59), {"percent": 50}),
        ("x-later", utc(2026, 3, 11, 0, 30)),
    )
    # 23:00 on 10 March in New York (EDT, UTC-4 since 8 March).
    events(new_york, ("page_view", utc(2026, 3, 11, 3)), course=course)
    events(only_later, ("login", utc(2026, 3, 12, 9)))
    events(finished, ("login", utc(2026, 3, 8, 9)))
    events(missed_only, ("live_session_missed", utc(2026, 3, 8, 9)))
    events(no_enrolment, ("login", utc(2026, 3, 8, 9)))
    # Active only long before the window: first and last sight come from the history.
    events(gone, ("page_view", utc(2026, 1, 15, 9)), ("page_view", utc(2026, 1, 20, 9)))
    return {
        "tokyo": tokyo,
        "london": london,
        "new_york": new_york,
        "only_later": only_later,
        "missed_only": missed_only,
        "never": never,
        "gone": gone,
        "course": course,
        "art": art,
    }


def rows_of(act) -> dict[tuple[int, int], int]:
    pairs = zip(act.user_ids.tolist(), act.course_ids.tolist(), strict=True)
    return {pair: i for i, pair in enumerate(pairs)}


def test_a_row_per_active_enrolment_with_local_days(world) -> None:
    act = learner_activity(as_of=AS_OF, window_days=W)
    c, art = world["course"].pk, world["art"].pk
    tokyo, london, ny = (world[k].pk for k in ("tokyo", "london", "new_york"))
    later, missed, never = (world[k].pk for k in ("only_later", "missed_only", "never"))
    row = rows_of(act)
    # Every active enrolment, with or without activity; not the completed one, nor a learner
    # with events but no enrolment. Sorted by (user, course).
    gone = world["gone"].pk
    expected = sorted(
        [
            (tokyo, c),
            (tokyo, art),
            (london, c),
            (ny, c),
            (later, c),
            (missed, c),
            (never, c),
            (gone, c),
        ]
    )
    assert list(row) == expected
    assert act.cohort.tolist() == act.course_ids.tolist()
    ev = act.daily[:, :, KIND_INDEX["events"]]

    t = row[(tokyo, c)]
    # The course's quiz and the course-less login count; the art page view and the 16:00 UTC
    # event (the 11th in Tokyo) do not.
    assert ev[t].sum() == 2
    assert ev[t, LAST] == 1 and act.daily[t, LAST, KIND_INDEX["sessions"]] == 1
    assert ev[t, LAST - 5] == 1 and act.daily[t, LAST - 5, KIND_INDEX["quizzes"]] == 1
    assert act.quiz_score_sum[t, LAST - 5] == pytest.approx(0.8)
    assert act.quiz_score_n[t].sum() == 1
    assert act.days_since_last[t] == 0 and act.days_since_first[t] == 5
    assert act.enrolment_age[t] == 9
    assert act.progress[t] == pytest.approx(0.25)  # 1 of 4 lessons by as_of (2nd is later)
    assert act.course_days_left[t] == 20

    a = row[(tokyo, art)]
    assert ev[a].sum() == 2  # the art page view and the course-less login
    assert act.daily[a, LAST - 8, KIND_INDEX["page_views"]] == 1
    assert act.quiz_score_n[a].sum() == 0
    assert act.days_since_first[a] == 8 and act.days_since_last[a] == 0
    assert act.enrolment_age[a] == 18
    assert act.progress[a] == 1.0  # its only lesson is done
    assert np.isnan(act.course_days_left[a])  # self-paced
    # Study rhythm is the learner's: every activity hour, the same on both rows.
    assert act.hour_hist[t].tolist() == act.hour_hist[a].tolist()
    assert act.hour_hist[t, 8] == 1 and act.hour_hist[t, 12] == 1 and act.hour_hist[t, 10] == 1
    assert act.hour_hist[t].sum() == 3

    b = row[(london, c)]  # every event names no course: they all count for the enrolment
    assert ev[b].sum() == 2  # session_end + video; missed session is not activity
    assert act.daily[b, LAST - 1, KIND_INDEX["live_missed"]] == 1
    assert ev[b, LAST - 1] == 0
    assert act.session_seconds[b, LAST - 2] == 600
    assert act.video_pct_sum[b, LAST] == pytest.approx(0.5)
    assert act.daily[b, LAST, KIND_INDEX["video"]] == 1
    assert act.days_since_first[b] == (AS_OF - datetime.date(2026, 1, 1)).days
    assert act.days_since_last[b] == 0

    n = row[(ny, c)]
    assert ev[n, LAST] == 1 and act.hour_hist[n, 23] == 1
    assert act.daily[n, LAST, KIND_INDEX["page_views"]] == 1

    g = row[(gone, c)]
    assert ev[g].sum() == 0 and not act.never_started[g]
    assert act.days_since_first[g] == (AS_OF - datetime.date(2026, 1, 15)).days
    assert act.days_since_last[g] == (AS_OF - datetime.date(2026, 1, 20)).days


def test_enrolments_without_activity_are_never_started_rows(world) -> None:
    act = learner_activity(as_of=AS_OF, window_days=W)
    row = rows_of(act)
    c = world["course"].pk
    for name in ("only_later", "missed_only", "never"):
        r = row[(world[name].pk, c)]
        assert act.never_started[r]
        assert act.daily[r, :, KIND_INDEX["events"]].sum() == 0
        assert np.isinf(act.days_since_last[r]) and np.isinf(act.days_since_first[r])
        assert act.enrolment_age[r] == (AS_OF - datetime.date(2026, 2, 1)).days
    assert not act.never_started[row[(world["tokyo"].pk, c)]]
    assert act.never_started.sum() == 3


def test_as_of_earlier_ignores_later_events_and_enrolments(world) -> None:
    act = learner_activity(as_of=datetime.date(2026, 3, 9), window_days=W)
    row = rows_of(act)
    c = world["course"].pk
    ny = row[(world["new_york"].pk, c)]
    assert act.never_started[ny]  # their only event is on the 10th locally
    t = row[(world["tokyo"].pk, c)]
    assert act.daily[t, :, 0].sum() == 1  # only the quiz of the 5th
    assert act.days_since_last[t] == 4
    assert act.progress[t] == pytest.approx(0.25)
    # Before tokyo enrolled in the course (1 March) there is only the art row.
    early = rows_of(learner_activity(as_of=datetime.date(2026, 2, 25), window_days=W))
    assert (world["tokyo"].pk, world["art"].pk) in early
    assert (world["tokyo"].pk, c) not in early


def test_user_ids_narrow_the_population(world) -> None:
    act = learner_activity(as_of=AS_OF, user_ids=[world["tokyo"].pk], window_days=W)
    assert act.user_ids.tolist() == [world["tokyo"].pk] * 2
    assert act.daily[:, :, 0].sum() == 4


def test_daily_events_and_withdrawals_per_enrolment(world) -> None:
    act = learner_activity(as_of=AS_OF, window_days=W)
    row = rows_of(act)
    tokyo, c, art = world["tokyo"].pk, world["course"].pk, world["art"].pk
    events(world["tokyo"], ("page_view", utc(2026, 3, 11, 1), {}, world["art"]))  # 11th, art
    daily = enrolment_daily_events(
        start=datetime.date(2026, 3, 10),
        end=datetime.date(2026, 3, 11),
        user_ids=act.user_ids,
        course_ids=act.course_ids,
    )
    assert daily[row[(tokyo, c)]].tolist() == [1, 1]  # login on the 10th, x-later on the 11th
    assert daily[row[(tokyo, art)]].tolist() == [1, 1]  # the login, then the art page view
    assert daily[row[(world["london"].pk, c)]].tolist() == [1, 1]
    assert daily[row[(world["never"].pk, c)]].tolist() == [0, 0]

    enrollments_upsert(
        items=[
            {
                "user": world["tokyo"].external_id,
                "course": world["art"].external_id,
                "status": "withdrawn",
                "withdrawn_at": utc(2026, 3, 11, 8),
            }
        ]
    )
    withdrew = enrolment_withdrawals(
        start=datetime.date(2026, 3, 11),
        end=datetime.date(2026, 3, 20),
        user_ids=act.user_ids,
        course_ids=act.course_ids,
    )
    assert withdrew.tolist() == [i == row[(tokyo, art)] for i in range(len(row))]
    # The withdrawn enrolment is no longer in the population after it.
    later = rows_of(learner_activity(as_of=datetime.date(2026, 3, 12), window_days=W))
    assert (tokyo, art) not in later and (tokyo, c) in later
