"""Streaks: learner-local days (timezone moves, daylight saving), late events, freezes."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from gamification.models import (
    LearnerGameProfile,
    Moment,
    RewardGrant,
    RewardUse,
    StreakDay,
    StreakMilestoneReached,
    XpTransaction,
)
from gamification.selectors.rewards import freezes_held, reward_inventory
from gamification.selectors.streaks import streak_at_risk_user_ids, streak_state, streak_states
from gamification.selectors.xp import xp_action_catalogue
from gamification.services.streaks import (
    streak_at_risk_moments_record,
    streaks_record_events,
    streaks_settle,
)
from gamification.services.xp import xp_award_claims
from gamification.tasks import record_streak_at_risk_moments, settle_streaks
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.gamification.factories import (
    event_record,
    freezes_grant,
    install_defaults,
    install_rewards_and_achievements,
)
from tests.locks import backend_pid, needs_postgresql, wait_until_blocked

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
D = datetime.date


def at(day: D, hour: int = 12, minute: int = 0, tz: datetime.tzinfo = UTC) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)


def active_on(user, *days: D, hour: int = 12) -> None:
    """One batch of events, one per day, at `hour` UTC."""
    streaks_record_events(events=[event_record(user, at(day, hour)) for day in days])


def days_of(user) -> dict[D, str]:
    return dict(StreakDay.objects.filter(user=user).values_list("date", "status"))


def profile(user) -> LearnerGameProfile:
    return LearnerGameProfile.objects.get(user=user)


def days(first: D, count: int) -> list[D]:
    return [first + datetime.timedelta(days=n) for n in range(count)]


MON = D(2026, 3, 2)


def day(n: int) -> D:
    """The n-th day after Monday 2 March 2026 (0 is that Monday)."""
    return MON + datetime.timedelta(days=n)


# --- days in the learner's own calendar --------------------------------------------------------


def test_one_qualifying_activity_a_day_counts_and_more_the_same_day_adds_nothing():
    learner = UserFactory()
    streaks_record_events(
        events=[
            event_record(learner, at(MON, 9)),
            event_record(learner, at(MON, 21)),
            event_record(learner, at(day(1), 8)),
            event_record(learner, at(day(2), 8)),
            # Not something the learner did: no day of its own.
            event_record(learner, at(day(3), 8), "live_session_missed"),
        ]
    )

    assert days_of(learner) == dict.fromkeys(days(MON, 3), "active")
    assert StreakDay.objects.get(user=learner, date=MON).activity_count == 2
    state = streak_state(user_id=learner.pk, now=at(day(2), 20))
    assert (state.current, state.longest, state.started_on) == (3, 3, MON)
    assert state.active_today and not state.at_risk_today


def test_the_day_ends_at_midnight_where_the_learner_lives():
    tokyo = UserFactory(timezone="Asia/Tokyo")
    # 16:30 UTC on Monday is 01:30 on Tuesday in Tokyo; 14:00 UTC on Tuesday is 23:00 there.
    streaks_record_events(
        events=[
            event_record(tokyo, at(MON, 16, 30)),
            event_record(tokyo, at(day(1), 14)),
        ]
    )

    assert days_of(tokyo) == {day(1): "active"}
    assert profile(tokyo).current_streak == 1


def test_a_learner_moving_from_tokyo_to_los_angeles_keeps_the_streak_and_counts_days_once():
    learner = UserFactory(timezone="Asia/Tokyo")
    # Monday to Wednesday in Tokyo, each at 20:00 there (11:00 UTC).
    active_on(learner, *days(MON, 3), hour=11)
    wednesday = day(2)
    learner.timezone = "America/Los_Angeles"
    learner.save(update_fields=["timezone"])

    # Landed in Los Angeles: 03:00 UTC on Thursday is still Wednesday 19:00 there.
    streaks_record_events(events=[event_record(learner, at(day(3), 3))])
    assert days_of(learner) == dict.fromkeys(days(MON, 3), "active")
    assert StreakDay.objects.get(user=learner, date=wednesday).activity_count == 2
    assert profile(learner).current_streak == 3
    # Thursday 12:00 in Los Angeles, and the evening of Thursday there: at risk, not broken.
    thursday_evening = at(day(4), 3)  # Thu 19:00 PST
    assert streak_at_risk_user_ids(now=thursday_evening) == {learner.pk}

    streaks_record_events(events=[event_record(learner, at(day(3), 20))])
    assert days_of(learner)[day(3)] == "active"
    state = streak_state(user_id=learner.pk, now=thursday_evening)
    assert (state.current, state.started_on, state.active_today) == (4, MON, True)


def test_daylight_saving_days_of_23_and_25_hours_in_berlin():
    berlin = UserFactory(timezone="Europe/Berlin")
    spring = D(2026, 3, 29)  # clocks go forward at 02:00: the day lasts 23 hours
    streaks_record_events(
        events=[
            event_record(berlin, at(D(2026, 3, 28), 22, 30)),  # Sat 23:30 CET
            event_record(berlin, at(spring, 21, 30)),  # Sun 23:30 CEST
            event_record(berlin, at(spring, 22, 30)),  # Mon 00:30 CEST
        ]
    )
    assert days_of(berlin) == dict.fromkeys(days(D(2026, 3, 28), 3), "active")
    assert profile(berlin).current_streak == 3

    autumn_learner = UserFactory(timezone="Europe/Berlin")
    autumn = D(2026, 10, 25)  # clocks go back at 03:00: the day lasts 25 hours
    streaks_record_events(
        events=[
            event_record(autumn_learner, at(D(2026, 10, 24), 21, 30)),  # Sat 23:30 CEST
            event_record(autumn_learner, at(D(2026, 10, 24), 22, 30)),  # Sun 00:30 CEST
            event_record(autumn_learner, at(autumn, 22, 30)),  # Sun 23:30 CET, same day
        ]
    )
    assert days_of(autumn_learner) == {D(2026, 10, 24): "active", autumn: "active"}
    assert StreakDay.objects.get(user=autumn_learner, date=autumn).activity_count == 2

    # On the long Sunday's last hour (23:30 CET = 22:30 UTC), a learner active on Saturday
    # only is at risk; half an hour later it is Monday there and the streak has lapsed.
    saturday_only = UserFactory(timezone="Europe/Berlin")
    active_on(saturday_only, D(2026, 10, 23), D(2026, 10, 24), hour=10)
    assert saturday_only.pk in streak_at_risk_user_ids(now=at(autumn, 22, 30))
    assert saturday_only.pk not in streak_at_risk_user_ids(now=at(autumn, 23, 30))
    assert streak_state(user_id=saturday_only.pk, now=at(autumn, 23, 30)).current == 0


# --- late events --------------------------------------------------------------------------


def test_a_late_event_fills_the_gap_and_merges_two_streaks():
    learner = UserFactory()
    active_on(learner, MON, day(1))
    active_on(learner, *days(day(3), 2))
    assert (profile(learner).current_streak, profile(learner).longest_streak) == (2, 2)

    # Wednesday's event arrives on Friday (the learner studied offline).
    active_on(learner, day(2))

    assert days_of(learner) == dict.fromkeys(days(MON, 5), "active")
    assert (profile(learner).current_streak, profile(learner).longest_streak) == (5, 5)
    assert set(StreakDay.objects.filter(user=learner).values_list("run_started_on", flat=True)) == {
        MON
    }
    state = streak_state(user_id=learner.pk, now=at(day(4), 18))
    assert (state.current, state.started_on) == (5, MON)


# --- freezes -------------------------------------------------------------------------------


def test_a_freeze_covers_a_missed_day_when_the_next_activity_arrives():
    learner = UserFactory()
    freezes_grant(learner, 1)
    active_on(learner, MON, day(1))
    active_on(learner, day(3))  # Wednesday missed

    assert days_of(learner) == {
        MON: "active",
        day(1): "active",
        day(2): "frozen",
        day(3): "active",
    }
    # A frozen day keeps the streak alive but adds no day to it.
    assert profile(learner).current_streak == 3
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: 0}
    use = RewardUse.objects.get(user=learner)
    assert use.reference == "2026-03-04" and use.refunded_at is None
    assert Moment.objects.filter(user=learner, kind="streak_freeze_used").count() == 1


def test_freezes_are_not_wasted_on_a_gap_they_cannot_bridge():
    learner = UserFactory()
    freezes_grant(learner, 1)
    active_on(learner, MON)
    active_on(learner, day(3))  # two days missed, one freeze

    assert set(days_of(learner).values()) == {"active"}
    assert profile(learner).current_streak == 1
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: 1}
    assert not RewardUse.objects.exists()


def test_two_freezes_bridge_two_missed_days():
    learner = UserFactory()
    freezes_grant(learner, 2)
    active_on(learner, MON)
    active_on(learner, day(3))

    assert list(days_of(learner).values()).count("frozen") == 2
    assert profile(learner).current_streak == 2
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: 0}


def test_a_late_event_repairs_a_frozen_day_and_the_freeze_is_refunded():
    learner = UserFactory()
    freezes_grant(learner, 1)
    active_on(learner, MON, day(1))
    active_on(learner, day(3))
    wednesday = day(2)
    assert days_of(learner)[wednesday] == "frozen"

    active_on(learner, wednesday)  # the learner did study on Wednesday, offline

    assert set(days_of(learner).values()) == {"active"}
    assert profile(learner).current_streak == 4
    use = RewardUse.objects.get(user=learner)
    assert use.refunded_at is not None
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: 1}


def test_the_hourly_settle_spends_a_freeze_at_the_end_of_the_missed_day():
    learner = UserFactory(timezone="America/New_York")
    freezes_grant(learner, 1)
    active_on(learner, MON, day(1), hour=15)  # 10:00 in New York
    wednesday = day(2)

    # 23:30 on Wednesday in New York (04:30 UTC Thursday): the day has not ended there yet.
    streaks_settle(now=at(day(3), 4, 30))
    assert wednesday not in days_of(learner)
    # 00:30 on Thursday there: Wednesday is over and was missed; the freeze covers it.
    settled = streaks_settle(now=at(day(3), 5, 30))
    assert settled.freezes_spent == 1
    assert days_of(learner)[wednesday] == "frozen"
    assert streaks_settle(now=at(day(3), 6, 30)).freezes_spent == 0
    state = streak_state(user_id=learner.pk, now=at(day(3), 14))
    assert (state.current, state.freezes_held, state.at_risk_today) == (2, 0, True)

    # Thursday missed too, with no freeze left: the streak has ended.
    friday = day(4)
    assert streaks_settle(now=at(friday, 5, 30)).lapsed == 1
    assert profile(learner).current_streak == 0
    assert streak_state(user_id=learner.pk, now=at(friday, 14)).current == 0

    # Activity on Friday starts a new streak.
    active_on(learner, friday, hour=15)
    assert streak_state(user_id=learner.pk, now=at(friday, 20)).current == 1


def test_at_most_two_freezes_are_held_and_a_third_grant_is_capped():
    learner = UserFactory()
    first = freezes_grant(learner, 1, key="a")
    second = freezes_grant(learner, 1, key="b")
    third = freezes_grant(learner, 1, key="c")

    assert (first.granted, second.granted, third.granted) == (1, 1, 0)
    assert third.capped and third.held == 2
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: 2}
    assert RewardGrant.objects.get(idempotency_key="c").quantity == 0
    # Spending one makes room for one again.
    active_on(learner, MON)
    active_on(learner, day(2))
    assert freezes_grant(learner, 2, key="d").granted == 1


# --- milestones and daily XP ---------------------------------------------------------------


def test_a_seven_day_streak_reaches_its_milestone_once():
    learner = UserFactory()
    active_on(learner, *days(MON, 4))
    active_on(learner, *days(day(4), 3))

    reached = StreakMilestoneReached.objects.get(user=learner)
    assert (reached.milestone.days, reached.streak_started_on, reached.reached_on) == (
        7,
        MON,
        day(6),
    )
    moment = Moment.objects.get(user=learner, kind="streak_milestone")
    assert moment.data["days"] == 7
    assert freezes_held(user_ids=[learner.pk]) == {learner.pk: reached.milestone.freezes_reward}

    # More activity the same day, then a late event that starts the streak a day earlier:
    # still one milestone for this streak.
    active_on(learner, day(6))
    active_on(learner, day(-1))
    assert StreakMilestoneReached.objects.filter(user=learner).count() == 1
    assert profile(learner).current_streak == 8


def test_at_risk_means_alive_through_yesterday_and_nothing_yet_today():
    now = at(day(3), 19)  # Thursday 19:00 UTC
    thursday = now.date()  # day(3)
    yesterday_only = UserFactory()
    active_on(yesterday_only, day(1), day(2))
    done_today = UserFactory()
    active_on(done_today, day(2), thursday)
    lapsed = UserFactory()
    active_on(lapsed, day(1))
    saved_by_freeze = UserFactory()
    freezes_grant(saved_by_freeze, 1)
    active_on(saved_by_freeze, day(1))  # Wednesday missed
    tokyo = UserFactory(timezone="Asia/Tokyo")  # 04:00 on Friday there
    active_on(tokyo, thursday)  # Thursday 21:00 in Tokyo

    assert streak_at_risk_user_ids(now=now) == {
        yesterday_only.pk,
        saved_by_freeze.pk,
        tokyo.pk,
    }
    assert streak_at_risk_user_ids(now=now, min_streak_days=2) == {yesterday_only.pk}


def test_streak_at_risk_moments_once_a_day_from_the_evening():
    learner = UserFactory(timezone="Europe/Berlin")
    active_on(learner, MON, day(1), hour=9)
    wednesday = day(2)

    assert streak_at_risk_moments_record(now=at(wednesday, 15)) == 0  # 16:00 in Berlin
    assert streak_at_risk_moments_record(now=at(wednesday, 17)) == 1  # 18:00
    assert streak_at_risk_moments_record(now=at(wednesday, 19)) == 0
    moment = Moment.objects.get(user=learner, kind="streak_at_risk")
    assert moment.data["streak_days"] == 2
    assert moment.dedupe_key == f"streak_at_risk:{learner.pk}:2026-03-04"


def test_daily_streak_xp_is_paid_once_per_active_day():
    learner = UserFactory()
    active_on(learner, MON, MON)
    active_on(learner, MON, day(1))

    paid = XpTransaction.objects.filter(user=learner, action__code="daily_streak")
    assert sorted(paid.values_list("local_date", flat=True)) == [
        MON,
        day(1),
    ]


# --- through ingestion, concurrency, the beat --------------------------------------------------


def test_ingested_events_record_the_days_and_pay_the_daily_streak_once():
    learner = UserFactory(timezone="Asia/Tokyo")
    monday_evening_tokyo = at(MON, 11)  # 20:00 in Tokyo
    make_events(learner, [("login", monday_evening_tokyo)])
    # The same day twice more, then the next day (16:00 UTC Monday is Tuesday 01:00 there).
    make_events(learner, [("page_view", at(MON, 12)), ("page_view", at(MON, 16))])

    assert days_of(learner) == {MON: "active", day(1): "active"}
    paid = XpTransaction.objects.filter(user=learner, action__code="daily_streak")
    assert sorted(paid.values_list("local_date", flat=True)) == [MON, day(1)]
    assert profile(learner).current_streak == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_for_one_learner_both_count():
    needs_postgresql()
    install_defaults()
    install_rewards_and_achievements()
    learner = UserFactory()
    recorded, commit = threading.Event(), threading.Event()
    second_pid: list[int] = []
    errors: list[Exception] = []

    def first() -> None:
        try:
            with transaction.atomic():
                active_on(learner, MON, day(1))
                recorded.set()
                commit.wait(timeout=30)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            recorded.set()
            connection.close()

    def second() -> None:
        try:
            second_pid.append(backend_pid())
            active_on(learner, day(2))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    try:
        recorded.wait(timeout=30)
        two.start()
        while not second_pid:
            time.sleep(0.001)
        wait_until_blocked(second_pid[0])  # queued behind the first batch's learner lock
    finally:
        commit.set()
        one.join(timeout=30)
        two.join(timeout=30)

    assert errors == []
    assert dict(StreakDay.objects.filter(user=learner).values_list("date", "run_length")) == {
        MON: 1,
        day(1): 2,
        day(2): 3,
    }
    assert profile(learner).current_streak == 3


def test_the_beat_runs_the_streak_tasks_hourly_and_each_expires_before_the_next():
    from config.settings import base

    for name in ("gamification.settle_streaks", "gamification.record_streak_at_risk_moments"):
        entry = base.CELERY_BEAT_SCHEDULE[name]
        assert entry["task"] == name
        assert entry["options"]["expire_seconds"] < 3600
        assert entry["schedule"].hour == set(range(24))
    # A learner for whom it is about 20:00 now, whatever the hour the test runs at (a fixed
    # offset from UTC-12 to UTC+14; POSIX names count the sign the other way round).
    now = timezone.now()
    offset = (20 - now.astimezone(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    learner = UserFactory(timezone=f"Etc/GMT{-offset:+d}" if offset else "UTC")
    today = now.astimezone(learner.tz).date()
    freezes_grant(learner, 1)
    streaks_record_events(
        events=[
            event_record(learner, at(today - datetime.timedelta(days=back), tz=learner.tz))
            for back in (3, 2)
        ]
    )

    assert settle_streaks.apply().get() == 1  # yesterday was missed: the freeze covers it
    assert settle_streaks.apply().get() == 0
    # Its evening, a two-day streak and nothing yet today: told once.
    assert record_streak_at_risk_moments.apply().get() == 1
    assert record_streak_at_risk_moments.apply().get() == 0
    assert Moment.objects.get(user=learner, kind="streak_at_risk").data["streak_days"] == 2


def test_streak_reads_pin_their_query_counts(django_assert_num_queries):
    now = at(day(2), 19)  # 04:00 on day 3 in Tokyo: day 2 was missed there, a freeze covers it
    learners = [UserFactory(timezone=tz) for tz in ("UTC", "Asia/Tokyo", "America/Denver")]
    for learner in learners:
        freezes_grant(learner, 1)
        active_on(learner, day(0), day(1))

    # Timezones, profiles, latest days, grants, uses: the same for one learner or thousands.
    with django_assert_num_queries(5):
        states = streak_states(user_ids=[u.pk for u in learners], now=now)
    assert {s.current for s in states.values()} == {2}
    # The recent streak days, then the freezes of those whose missed day is not settled yet.
    with django_assert_num_queries(3):
        assert streak_at_risk_user_ids(now=now) == {u.pk for u in learners}
    with django_assert_num_queries(3):
        assert [item.held for item in reward_inventory(learners[0].pk)] == [1]


def test_a_caller_may_collect_the_streak_xp_and_pay_it_with_its_own_claims():
    learner = UserFactory()
    claims: list = []

    streaks_record_events(events=[event_record(learner, at(MON))], xp_claims=claims)

    assert [claim.key for claim in claims] == [f"daily_streak:{learner.pk}:2026-03-02"]
    assert not XpTransaction.objects.filter(user=learner).exists()
    assert xp_award_claims(claims, catalogue=xp_action_catalogue()) == claims[0].amount
