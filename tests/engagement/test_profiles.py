"""Personalization profiles, with hand-computed local times across timezone edges."""

import datetime

import pytest
from django.db import connection

from engagement.models import PersonalizationProfile
from engagement.services import profiles as profile_services
from engagement.services.profiles import profiles_refresh
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import LessonFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 1, 20)  # a Tuesday; Los Angeles is on standard time (UTC-8)


def utc(day: int, hour: int, minute: int = 0, month: int = 1, year: int = 2026):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=datetime.UTC)


@pytest.fixture
def tokyo():
    user = UserFactory(timezone="Asia/Tokyo")
    make_events(
        user,
        [
            ("page_view", utc(12, 23, 30)),  # Tue 13 Jan 08:30 in Tokyo (Monday in UTC)
            ("video_progress", utc(12, 23, 50), {"percent": 10}),  # Tue 08:50
            ("video_progress", utc(13, 12, 0), {"percent": 50}),  # Tue 21:00
            ("video_progress", utc(14, 23, 10), {"percent": 80}),  # Thu 15 Jan 08:10
            ("quiz_submitted", utc(17, 1, 0), {"score": 5, "max_score": 10}),  # Sat 10:00
        ],
    )
    return user


@pytest.fixture
def los_angeles():
    user = UserFactory(timezone="America/Los_Angeles")
    one, two, three = ({"lesson": lesson} for lesson in LessonFactory.create_batch(3))
    make_events(
        user,
        [
            ("lesson_completed", utc(14, 2, 0), {}, one),  # Tue 13 Jan 18:00 in LA (Wed in UTC)
            ("lesson_completed", utc(14, 3, 30), {}, two),  # Tue 19:30
            ("lesson_completed", utc(15, 2, 15), {}, three),  # Wed 14 Jan 18:15
            ("page_view", utc(3, 17, 0)),  # Sat 3 Jan 09:00
            ("discussion_post", utc(18, 2, 0)),  # Sat 17 Jan 18:00
            ("live_session_missed", utc(16, 2, 0)),  # not learner activity: ignored
            ("page_view", utc(25, 23, 0, month=11, year=2025)),  # before the 56-day window
        ],
    )
    return user


def test_tokyo_learner_late_utc_evening_is_next_morning(tokyo):
    assert profiles_refresh(as_of=AS_OF) == 1

    profile = PersonalizationProfile.objects.get(user=tokyo)
    assert profile.study_hours == [8, 10, 21]
    assert profile.preferred_days == [2, 4, 6]
    assert profile.best_send_hour == 8
    # Three videos and a quiz: too few uses to call a format.
    assert profile.format_uses == {"video": 3, "quiz": 1}
    assert profile.preferred_format == ""
    assert profile.events_considered == 5
    assert profile.pace == "unknown"  # only 8 days observed
    assert (profile.observed_days, profile.lessons_completed) == (8, 0)


def test_los_angeles_learner_early_utc_morning_is_previous_day(los_angeles):
    profiles_refresh(as_of=AS_OF)

    profile = PersonalizationProfile.objects.get(user=los_angeles)
    assert profile.study_hours == [18, 9, 19]
    assert profile.preferred_days == [2, 6, 3]
    assert profile.best_send_hour == 18
    # Three lessons completed without a video are read; the page view is navigation.
    assert profile.format_uses == {"reading": 3, "discussion": 1}
    assert profile.preferred_format == ""  # four uses: not enough yet
    assert profile.events_considered == 5
    # 3 lessons over the 18 days from 3 to 20 January: 1.2 a week.
    assert profile.lessons_per_week == 1.2
    assert (profile.observed_days, profile.lessons_completed) == (18, 3)
    assert profile.pace == "steady"


@pytest.mark.parametrize(
    ("lessons", "pace"), [(0, "slow"), (1, "slow"), (2, "steady"), (5, "steady"), (6, "fast")]
)
def test_pace_cut_offs(lessons, pace):
    # Active on 14 days ending on AS_OF: lessons per week = lessons / 2.
    user = UserFactory()
    days = [("page_view", utc(20 - d, 12)) for d in range(14)]
    lessons_done = [
        ("lesson_completed", utc(19, 13 + i % 8, i), {}, {"lesson": lesson})
        for i, lesson in enumerate(LessonFactory.create_batch(lessons))
    ]
    make_events(user, days + lessons_done)

    profiles_refresh(as_of=AS_OF)

    assert PersonalizationProfile.objects.get(user=user).pace == pace


def test_refresh_updates_in_place_and_can_be_limited(tokyo, los_angeles):
    profiles_refresh(as_of=AS_OF, user_ids=[tokyo.pk])
    assert list(PersonalizationProfile.objects.values_list("user_id", flat=True)) == [tokyo.pk]

    make_events(tokyo, [("quiz_submitted", utc(19, 1), {"score": 1, "max_score": 2})])
    assert profiles_refresh(as_of=AS_OF) == 2

    assert PersonalizationProfile.objects.count() == 2
    assert PersonalizationProfile.objects.get(user=tokyo).events_considered == 6


def test_sql_and_python_paths_agree(tokyo, los_angeles):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's; SQLite runs the Python one in every test")
    since = datetime.datetime(2025, 11, 26, tzinfo=datetime.UTC)
    until = datetime.datetime(2026, 1, 21, tzinfo=datetime.UTC)

    sql = profile_services.local_tallies(since=since, until=until, user_ids=None, in_database=True)
    python = profile_services.local_tallies(
        since=since, until=until, user_ids=None, in_database=False
    )

    assert sql == python
    assert sql[tokyo.pk].days == {
        datetime.date(2026, 1, 13),
        datetime.date(2026, 1, 15),
        datetime.date(2026, 1, 17),
    }


def test_no_activity_no_profile():
    UserFactory()
    assert profiles_refresh(as_of=AS_OF) == 0
    assert not PersonalizationProfile.objects.exists()


def lesson_days(user, *, days: int, lessons: int, video: bool = True, quiz: bool = False):
    """Study on `days` consecutive days up to AS_OF, a page view each day (as the demo does),
    completing `lessons` lessons spread over them, each watched (video) and maybe quizzed."""
    specs: list[tuple] = [
        ("page_view", utc(20, 9) - datetime.timedelta(days=d)) for d in range(days)
    ]
    for i, lesson in enumerate(LessonFactory.create_batch(lessons)):
        at = utc(20, 10) - datetime.timedelta(days=i % days, minutes=i)
        ref = {"lesson": lesson}
        if video:
            specs += [("video_progress", at, {"percent": p}, ref) for p in (30, 60, 100)]
        if quiz:
            specs.append(("quiz_submitted", at, {"score": 8, "max_score": 10}, ref))
        specs.append(("lesson_completed", at, {}, ref))
    make_events(user, specs)


def test_a_fast_start_is_not_enough_data_yet_and_the_rate_stays_out_of_the_verdict():
    """The demo's "Unknown at 4.7 lessons/week": two lessons in three days is no pace yet."""
    user = UserFactory()
    lesson_days(user, days=3, lessons=2)

    profiles_refresh(as_of=AS_OF)

    profile = PersonalizationProfile.objects.get(user=user)
    assert profile.pace == "unknown"
    assert profile.get_pace_display() == "Not enough data yet"
    assert (profile.lessons_completed, profile.observed_days) == (2, 3)


def test_the_band_is_decided_on_the_rate_as_shown():
    """11 lessons in 26 days is 2.96 a week, shown as 3.0: it must read "fast", not "steady"."""
    user = UserFactory()
    lesson_days(user, days=26, lessons=11)

    profiles_refresh(as_of=AS_OF)

    profile = PersonalizationProfile.objects.get(user=user)
    assert profile.lessons_per_week == 3.0 and profile.pace == "fast"


@pytest.mark.parametrize(
    ("lessons", "video", "quiz", "uses", "preferred"),
    [
        # Watches every lesson's video and takes its quiz: no format is ahead.
        (8, True, True, {"video": 8, "quiz": 8}, "mixed"),
        # Watches, rarely quizzes (2 quizzes below): video leads by far.
        (8, True, False, {"video": 8, "quiz": 2}, "video"),
        # Completes lessons without their videos: reads them. Daily page views do not count.
        (7, False, False, {"reading": 7}, "reading"),
        # Five uses in all: not enough data yet.
        (5, True, False, {"video": 5}, ""),
    ],
)
def test_preferred_format_needs_enough_uses_and_a_clear_lead(lessons, video, quiz, uses, preferred):
    user = UserFactory()
    lesson_days(user, days=14, lessons=lessons, video=video, quiz=quiz)
    if uses.get("quiz") == 2:
        make_events(user, [quiz_at(18), quiz_at(19)])

    profiles_refresh(as_of=AS_OF)

    profile = PersonalizationProfile.objects.get(user=user)
    assert profile.format_uses == uses
    assert profile.preferred_format == preferred


def quiz_at(day: int) -> tuple:
    return ("quiz_submitted", utc(day, 11), {"score": 5, "max_score": 10})


def test_demo_like_days_are_not_all_reading():
    """Every demo study day opens the course page; counted as reading, it outvoted the videos."""
    user = UserFactory()
    lesson_days(user, days=20, lessons=7)

    profiles_refresh(as_of=AS_OF)

    assert PersonalizationProfile.objects.get(user=user).preferred_format == "video"
