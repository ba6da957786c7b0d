"""The learner's gamification summary: what their overview and the read API show, in a fixed
number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.localtime import local_date
from gamification.selectors.achievements import achievement_progress
from gamification.selectors.leaderboards import key_prefix, leaderboard_ranks, redis_client
from gamification.selectors.leagues import league_standing
from gamification.selectors.streaks import streak_state
from gamification.selectors.summary import (
    learner_gamification_summary,
    streak_calendar,
    xp_history,
    xp_history_items,
)
from gamification.services.achievements import achievement_unlock
from gamification.services.moments import moment_record
from gamification.services.moments_seen import moments_mark_seen
from gamification.services.rewards import reward_grant
from gamification.services.streaks import streak_record_activity
from tests.accounts.factories import UserFactory
from tests.gamification.factories import award, learner_with_xp, next_key
from tests.learning.factories import LessonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_boards():
    """Redis outlives each test's rolled-back database: start every test with empty boards."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
        if keys:
            client.unlink(*keys)


DAY = datetime.timedelta(days=1)


def test_a_new_learner_starts_at_level_one_with_nothing_yet():
    ada = UserFactory()

    summary = learner_gamification_summary(user_id=ada.pk)

    assert summary.total_xp == 0
    assert (summary.level.number, summary.level.name) == (1, "Novice")
    assert summary.level.next_name == "Apprentice"
    assert summary.level.xp_to_next == 250
    assert summary.level.percent == 0
    assert [step.name for step in summary.ladder][:2] == ["Novice", "Apprentice"]
    assert len(summary.ladder) == 10
    assert summary.streak.current == summary.streak.longest == 0
    assert not summary.streak.at_risk_today
    assert summary.streak.freezes_held == 0
    assert summary.streak.freezes_max == 2
    assert len(summary.achievements) == 12
    assert not summary.unlocked
    assert {rank.period: rank.rank for rank in summary.ranks} == {
        "daily": None,
        "weekly": None,
        "monthly": None,
        "all_time": None,
    }
    assert summary.league is None
    assert summary.recent_xp == summary.recent_moments == ()
    assert summary.show_on_leaderboards


def test_the_summary_shows_what_the_learner_earned(django_capture_on_commit_callbacks):
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        ada = learner_with_xp(300, first_name="Ada", last_name="Lopez")
        ben = learner_with_xp(100, first_name="Ben")
        # Studied the two days before today, not yet today: the streak is at risk. Each
        # streak day pays the daily_streak action's 20 XP.
        streak_record_activity(user_id=ada.pk, occurred_at=now - 2 * DAY)
        streak_record_activity(user_id=ada.pk, occurred_at=now - DAY)
        award(ada, "lesson_completed", reference="lesson:1", at=now - DAY)
    reward_grant(
        user_id=ada.pk,
        reward_code="streak_freeze",
        source="staff",
        reason="welcome gift",
        idempotency_key=next_key("freeze"),
    )

    summary = learner_gamification_summary(user_id=ada.pk, now=now)

    assert summary.name == "Ada Lopez"
    assert summary.total_xp == 300 + 2 * 20 + 50
    # Level 2 (Apprentice) starts at 250 XP, level 3 (Explorer) at 625.
    assert (summary.level.number, summary.level.name) == (2, "Apprentice")
    assert summary.level.xp_to_next == 625 - 390
    assert summary.level.percent == 37  # 140 of the 375 between them
    assert [step.reached for step in summary.ladder[:3]] == [True, True, False]
    assert summary.streak.current == 2
    assert summary.streak.at_risk_today
    assert not summary.streak.active_today
    assert summary.streak.freezes_held == 1
    assert summary.streak.freeze_slots == (True, False)
    assert summary.recent_xp[0].kind == "grant"  # newest first
    assert sorted(item.amount for item in summary.recent_xp) == [20, 20, 50, 300]
    assert {item.label for item in summary.recent_xp} >= {"Lesson completed", "Staff grant"}
    ranks = summary.ranks_by_period
    assert (ranks["all_time"].rank, ranks["all_time"].xp, ranks["all_time"].total) == (1, 390, 2)
    assert ranks["monthly"].rank in (1, None)  # None only when yesterday was last month
    ben_ranks = learner_gamification_summary(user_id=ben.pk, now=now).ranks_by_period
    assert (ben_ranks["all_time"].rank, ben_ranks["daily"].rank) == (2, 2)
    assert summary.league is not None
    assert (summary.league.tier, summary.league.size) == ("bronze", 2)
    assert summary.league.position == 1
    assert summary.league.zone == "promotion"
    # The level-up and the freeze grant told the learner; dismissed, they stay in the list, seen.
    assert {m.kind for m in summary.unseen_moments} == {"level_up", "reward_granted"}
    moments_mark_seen(user_id=ada.pk)
    assert learner_gamification_summary(user_id=ada.pk, now=now).unseen_moments == ()


def test_achievements_show_progress_and_unlock_dates():
    ada = learner_with_xp(300)

    summary = learner_gamification_summary(user_id=ada.pk)

    by_code = {a.code: a for a in summary.achievements}
    assert {a.tier for a in summary.achievements} >= {"bronze", "silver", "gold", "platinum"}
    level5 = next(
        a for a in summary.achievements if a.criterion == "level_reached" and a.threshold == 5
    )
    assert (level5.progress, level5.threshold, level5.percent) == (2, 5, 40)  # level 2 of 5
    assert not level5.unlocked
    assert all(a.rarity in {"common", "rare", "epic", "legendary"} for a in by_code.values())
    assert all(a.icon_id for a in by_code.values())


def test_a_moment_never_shows_to_another_learner():
    ada, ben = UserFactory(), UserFactory()
    moment = moment_record(
        user_id=ada.pk, kind="level_up", title="You reached level 2", dedupe_key=next_key("m")
    )
    assert moment is not None

    assert moments_mark_seen(user_id=ben.pk, moment_ids=[moment.id]) == 0
    assert [m.title for m in learner_gamification_summary(user_id=ada.pk).unseen_moments] == [
        "You reached level 2"
    ]
    assert learner_gamification_summary(user_id=ben.pk).recent_moments == ()


def test_the_calendar_covers_twelve_weeks_in_the_learners_own_days():
    tokyo = UserFactory(timezone="Asia/Tokyo")
    # 23:30 UTC is already the next day in Tokyo.
    now = datetime.datetime(2026, 3, 4, 23, 30, tzinfo=datetime.UTC)
    streak_record_activity(user_id=tokyo.pk, occurred_at=now)
    streak_record_activity(user_id=tokyo.pk, occurred_at=now - DAY)

    calendar = streak_calendar(user_id=tokyo.pk, today=datetime.date(2026, 3, 5))

    assert len(calendar.weeks) == 12
    assert all(len(week) == 7 for week in calendar.weeks)
    assert calendar.weeks[0][0].date == datetime.date(2025, 12, 15)  # a Monday
    days = {day.date: day for day in calendar.days}
    assert days[datetime.date(2026, 3, 5)].status == "active"
    assert days[datetime.date(2026, 3, 4)].status == "active"
    assert days[datetime.date(2026, 3, 3)].status == "none"
    assert days[datetime.date(2026, 3, 6)].status == "future"
    assert calendar.active_days == 2
    assert [d.date for d in calendar.marked_days] == [
        datetime.date(2026, 3, 5),
        datetime.date(2026, 3, 4),
    ]
    assert calendar.marked_days[0].text == "Thu 5 Mar 2026: active (1 activity)"


def _history(user, lessons: int, now: datetime.datetime) -> None:
    for n in range(lessons):
        award(user, "lesson_completed", reference=f"lesson:{n}", at=now - n * DAY)
        streak_record_activity(user_id=user.pk, occurred_at=now - n * DAY)


def _queries(run) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def test_the_query_count_is_fixed_whatever_the_history(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        short = learner_with_xp(10)
        long = learner_with_xp(10)
        _history(short, 1, now)
        _history(long, 30, now)
        for _ in range(3):
            learner_with_xp(40)
    moment_record(user_id=long.pk, kind="level_up", title="Up", dedupe_key=next_key("m"))
    # The long streak's milestones paid freezes; the short one holds one too, given by staff.
    reward_grant(
        user_id=short.pk,
        reward_code="streak_freeze",
        source="staff",
        idempotency_key=next_key("freeze"),
    )
    # What the parts owned elsewhere cost (each states its own count): the streak, the
    # achievements' values, the ranks on the four boards (Redis or the ledger), the league;
    # the last two told the learner's today, as the summary tells them (it has the timezone).
    today = local_date(now, long.timezone)
    parts = (
        _queries(lambda: streak_state(user_id=long.pk, now=now))
        + _queries(lambda: achievement_progress(long.pk))
        + _queries(lambda: leaderboard_ranks(user_id=long.pk, on=today))
        + _queries(lambda: league_standing(user_id=long.pk, on=today))
    )
    # Then the summary's own: the user with the profile and the levels (2), the rewards held
    # (3), the recent XP with the lessons it names (2) and the moments (1).
    expected = parts + 2 + 3 + 2 + 1
    with django_assert_num_queries(expected):
        learner_gamification_summary(user_id=short.pk, now=now)
    with django_assert_num_queries(expected):
        learner_gamification_summary(user_id=long.pk, now=now)


def test_the_xp_history_says_what_each_row_was_for():
    lesson = LessonFactory(title="Loops and lists")
    ada = learner_with_xp(120)
    award(ada, "lesson_completed", reference=f"lesson:{lesson.pk}")
    achievement_unlock(
        user_id=ada.pk, achievement_code="first-steps", granted_by_id=None, reason="Make-up"
    )

    items = xp_history_items(xp_history(user_id=ada.pk))

    by_label = {item.label: item for item in items}
    assert by_label["Lesson completed"].detail == "Loops and lists"
    assert by_label["Staff grant"].detail == "test set-up"  # the grant's written reason
    # An award paid by a service names its reason, without repeating the label.
    assert by_label["Achievement unlocked"].detail == "First Steps"
    assert by_label["Achievement unlocked"].reason == "Achievement: First Steps"
