"""learner_activity: the bulk activity tensor, checked against a hand-computed timeline."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from engagement.models import Event
from engagement.scoring.activity import KIND_INDEX
from engagement.selectors.activity import (
    learner_activity,
    learner_daily_events,
    learner_withdrawals,
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


def events(user, *specs) -> None:
    Event.objects.bulk_create(
        Event(
            source="t",
            client_id=f"{user.pk}-{i}",
            type=spec[0],
            user=user,
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
    course = CourseFactory(ends_on=AS_OF + datetime.timedelta(days=20))
    lessons = [LessonFactory(external_id=f"l{i}", course=course, title="L") for i in range(4)]
    EnrollmentFactory(user=tokyo, course=course, enrolled_at=utc(2026, 3, 1, 12))
    LessonProgressFactory(user=tokyo, lesson=lessons[0], at=utc(2026, 3, 4), completed=True)
    LessonProgressFactory(user=tokyo, lesson=lessons[1], at=utc(2026, 3, 12), completed=True)
    EnrollmentFactory(
        user=finished,
        course=course,
        status="completed",
        enrolled_at=utc(2026, 2, 1),
        completed_at=utc(2026, 3, 9),
    )
    events(
        tokyo,
        ("login", utc(2026, 3, 9, 23, 30)),  # 08:30 on 10 March in Tokyo: the as-of day
        ("quiz_submitted", utc(2026, 3, 5, 3), {"score": 8, "max_score": 10}),
        ("x-later", utc(2026, 3, 10, 16)),  # 01:00 on 11 March in Tokyo: after as_of
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
    events(new_york, ("page_view", utc(2026, 3, 11, 3)))
    events(only_later, ("login", utc(2026, 3, 12, 9)))
    events(finished, ("login", utc(2026, 3, 8, 9)))
    events(missed_only, ("live_session_missed", utc(2026, 3, 8, 9)))
    return {"tokyo": tokyo, "london": london, "new_york": new_york, "course": course}


def test_population_and_local_days(world) -> None:
    uids, act = learner_activity(as_of=AS_OF, window_days=W)
    tokyo, london, ny = (world[k].pk for k in ("tokyo", "london", "new_york"))
    # Later-only, completed-everything and missed-only learners are not scored.
    assert uids.tolist() == sorted([tokyo, london, ny])
    row = {uid: i for i, uid in enumerate(uids.tolist())}
    ev = act.daily[:, :, KIND_INDEX["events"]]

    t = row[tokyo]
    assert ev[t].sum() == 2  # the 16:00 UTC event is the 11th in Tokyo: ignored
    assert ev[t, LAST] == 1 and act.daily[t, LAST, KIND_INDEX["sessions"]] == 1
    assert ev[t, LAST - 5] == 1 and act.daily[t, LAST - 5, KIND_INDEX["quizzes"]] == 1
    assert act.quiz_score_sum[t, LAST - 5] == pytest.approx(0.8)
    assert act.quiz_score_n[t].sum() == 1
    assert act.hour_hist[t, 8] == 1 and act.hour_hist[t, 12] == 1
    assert act.days_since_last[t] == 0 and act.days_since_first[t] == 5
    assert act.enrolment_age[t] == 9
    assert act.progress[t] == pytest.approx(0.25)  # 1 of 4 lessons by as_of (2nd is later)
    assert act.course_days_left[t] == 20
    assert act.cohort[t] == world["course"].pk

    b = row[london]
    assert ev[b].sum() == 2  # session_end + video; missed session is not activity
    assert act.daily[b, LAST - 1, KIND_INDEX["live_missed"]] == 1
    assert ev[b, LAST - 1] == 0
    assert act.session_seconds[b, LAST - 2] == 600
    assert act.video_pct_sum[b, LAST] == pytest.approx(0.5)
    assert act.daily[b, LAST, KIND_INDEX["video"]] == 1
    assert act.days_since_first[b] == (AS_OF - datetime.date(2026, 1, 1)).days
    assert act.days_since_last[b] == 0
    assert np.isnan(act.enrolment_age[b]) and np.isnan(act.progress[b])

    n = row[ny]
    assert ev[n, LAST] == 1 and act.hour_hist[n, 23] == 1
    assert act.daily[n, LAST, KIND_INDEX["page_views"]] == 1


def test_as_of_earlier_ignores_later_events(world) -> None:
    uids, act = learner_activity(as_of=datetime.date(2026, 3, 9), window_days=W)
    row = {uid: i for i, uid in enumerate(uids.tolist())}
    assert world["new_york"].pk not in row  # their only event is on the 10th locally
    t = row[world["tokyo"].pk]
    assert act.daily[t, :, 0].sum() == 1  # only the quiz of the 5th
    assert act.days_since_last[t] == 4
    assert act.progress[t] == pytest.approx(0.25)


def test_daily_events_and_withdrawals(world) -> None:
    uids = np.array(sorted([world["tokyo"].pk, world["london"].pk]))
    daily = learner_daily_events(
        start=datetime.date(2026, 3, 10), end=datetime.date(2026, 3, 11), user_ids=uids
    )
    row = {uid: i for i, uid in enumerate(uids.tolist())}
    assert daily[row[world["tokyo"].pk]].tolist() == [1, 1]
    assert daily[row[world["london"].pk]].tolist() == [1, 1]
    enrollments_upsert(
        items=[
            {
                "user": world["tokyo"].external_id,
                "course": world["course"].external_id,
                "status": "withdrawn",
                "withdrawn_at": utc(2026, 3, 11, 8),
            }
        ]
    )
    withdrew = learner_withdrawals(
        start=datetime.date(2026, 3, 11), end=datetime.date(2026, 3, 20), user_ids=uids
    )
    assert withdrew[row[world["tokyo"].pk]] and not withdrew[row[world["london"].pk]]
