"""Reads for streaks: each learner's streak as of now, and who is at risk of losing it today.

How a streak is counted (the streak service writes it, these selectors read it):

* A streak is a run of consecutive learner-local days, each *active* (at least one
  qualifying event that day, in the learner's own timezone) or *frozen* (a missed day that a
  streak freeze covered). Its length is the number of active days: a freeze keeps the
  streak alive but adds nothing to it. The latest `StreakDay` of a learner carries the
  length of the streak it ends (`run_length`) and the streak's first day.
* On a given local day, a learner's streak is *alive* when their latest streak day is today
  or yesterday, or when the days missed since then (all ended) can still be covered by the
  freezes they hold: the streak service spends them at the end of each missed day (the
  hourly `streaks_settle`), or when the next activity arrives, whichever comes first.
* "At risk today" (`streak_at_risk_user_ids`): alive through yesterday, nothing yet today.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from core.bulk import fetch_rows
from core.localtime import local_date, local_datetime
from core.lookups import any_of
from gamification.defaults_rewards import FREEZES_MAX_HELD
from gamification.models import LearnerGameProfile, StreakDay, StreakMilestoneReached
from gamification.selectors.rewards import freezes_held

DAY = datetime.timedelta(days=1)
ACTIVE = StreakDay.Status.ACTIVE
FROZEN = StreakDay.Status.FROZEN


@dataclass(frozen=True, slots=True)
class StreakTail:
    """A learner's latest streak day: when, whether active, and the streak it ends."""

    user_id: int
    date: datetime.date
    status: str
    run_started_on: datetime.date | None
    run_length: int


@dataclass(frozen=True, slots=True)
class StreakState:
    """A learner's streak as of `local_now` in their timezone."""

    user_id: int
    tz_name: str
    local_now: datetime.datetime
    current: int  # active days of the live streak; 0 when it has lapsed
    longest: int
    started_on: datetime.date | None  # first day of the live streak
    last_active_date: datetime.date | None
    last_streak_date: datetime.date | None  # latest day active or frozen
    active_today: bool
    at_risk_today: bool  # alive through yesterday, nothing yet today
    freezes_held: int
    freezes_max: int = FREEZES_MAX_HELD

    @property
    def today(self) -> datetime.date:
        return self.local_now.date()


def missed_days(tail_date: datetime.date, today: datetime.date) -> int:
    """How many whole local days ended without activity since `tail_date` (0 if none)."""
    return max(0, (today - tail_date).days - 1)


def is_alive(tail_date: datetime.date | None, today: datetime.date, held: int) -> bool:
    """True when a streak ending on `tail_date` is still alive `today` holding `held` freezes."""
    return tail_date is not None and missed_days(tail_date, today) <= held


def streak_tails(*, user_ids: Iterable[int]) -> dict[int, StreakTail]:
    """Each learner's latest streak day, if any (one query, a probe of the unique index each)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(StreakDay._meta.db_table)
        rows = fetch_rows(
            "SELECT t.user_id, t.date, t.status, t.run_started_on, t.run_length "
            "FROM unnest(%s::bigint[]) AS u(id) CROSS JOIN LATERAL ("
            f"SELECT user_id, date, status, run_started_on, run_length FROM {table} "
            "WHERE user_id = u.id ORDER BY date DESC LIMIT 1) AS t",
            [ids],
        )
        return {row[0]: StreakTail(*row) for row in rows}
    latest = (
        StreakDay.objects.filter(user_id=OuterRef("user_id")).order_by("-date").values("date")[:1]
    )
    rows = (
        StreakDay.objects.filter(user_id__in=ids, date=Subquery(latest))
        .order_by()
        .values_list("user_id", "date", "status", "run_started_on", "run_length")
    )
    return {row[0]: StreakTail(*row) for row in rows}


def streak_states(
    *, user_ids: Iterable[int], now: datetime.datetime | None = None
) -> dict[int, StreakState]:
    """Each learner's streak as of `now` in their own timezone (five queries in all).

    Learners without a profile or streak days get the starting state (no streak).
    """
    now = now or timezone.now()
    ids = list(set(user_ids))
    if not ids:
        return {}
    zones = dict(User.objects.filter(any_of("pk", ids)).values_list("pk", "timezone"))
    profiles = {
        user_id: (longest, last_active)
        for user_id, longest, last_active in LearnerGameProfile.objects.filter(
            any_of("user_id", zones)
        ).values_list("user_id", "longest_streak", "last_active_date")
    }
    tails = streak_tails(user_ids=zones)
    held = freezes_held(user_ids=zones)
    states = {}
    for user_id, tz_name in zones.items():
        local_now = local_datetime(now, tz_name)
        today = local_now.date()
        tail = tails.get(user_id)
        longest, last_active = profiles.get(user_id, (0, None))
        alive = (
            tail is not None and tail.date <= today and is_alive(tail.date, today, held[user_id])
        )
        # A day after today can only come from an event up to MAX_FUTURE ahead: it counts.
        ahead = tail is not None and tail.date > today
        current = tail.run_length if (alive or ahead) and tail else 0
        states[user_id] = StreakState(
            user_id=user_id,
            tz_name=tz_name,
            local_now=local_now,
            current=current,
            longest=max(longest, current),
            started_on=tail.run_started_on if current else None,
            last_active_date=last_active,
            last_streak_date=tail.date if tail else None,
            active_today=last_active is not None and last_active >= today,
            at_risk_today=bool(current) and tail is not None and tail.date < today,
            freezes_held=held[user_id],
        )
    return states


def streak_state(*, user_id: int, now: datetime.datetime | None = None) -> StreakState:
    """One learner's streak as of `now` (see `streak_states`)."""
    states = streak_states(user_ids=[user_id], now=now)
    if user_id in states:
        return states[user_id]
    raise User.DoesNotExist(f"no user {user_id}")


# A learner's streak is alive through yesterday only if their latest streak day lies within
# this many days before today (two missed days bridged by the most freezes one may hold);
# the UTC date range read is widened by a day each way for learners' timezones.
_AT_RISK_LOOKBACK = FREEZES_MAX_HELD + 1


def streak_at_risk_user_ids(
    *, now: datetime.datetime | None = None, min_streak_days: int = 1
) -> set[int]:
    """Learners whose streak is alive through yesterday with nothing yet today, learner-local.

    THE one definition of "streak at risk today": the latest streak day (active, or covered
    by a freeze) is yesterday in the learner's timezone, or earlier but with every missed day
    since coverable by the freezes they hold (spent at the day's end); nothing today; and a
    streak of at least `min_streak_days` active days. Engagement's alert rule and the
    at-risk moments use it (through `streak_at_risk_states`). Three queries: the streak days
    of the last few days of every learner (with their timezone), and the freezes of those not
    settled yet.
    """
    now = now or timezone.now()
    utc_today = now.astimezone(datetime.UTC).date()
    rows = (
        StreakDay.objects.filter(
            date__gte=utc_today - (_AT_RISK_LOOKBACK + 1) * DAY, date__lte=utc_today + 2 * DAY
        )
        .order_by()
        .values_list("user_id", "date", "run_length", "user__timezone")
    )
    latest: dict[int, tuple[datetime.date, int, str]] = {}
    for user_id, day, length, tz_name in rows.iterator(chunk_size=5000):
        seen = latest.get(user_id)
        if seen is None or day > seen[0]:
            latest[user_id] = (day, length, tz_name)
    at_risk: set[int] = set()
    pending: dict[int, int] = {}  # learner -> days missed, still coverable by freezes
    for user_id, (day, length, tz_name) in latest.items():
        if length < min_streak_days:
            continue
        today = local_date(now, tz_name)
        if day >= today:
            continue
        missed = missed_days(day, today)
        if missed == 0:
            at_risk.add(user_id)
        elif missed <= FREEZES_MAX_HELD:
            pending[user_id] = missed
    if pending:
        held = freezes_held(user_ids=pending)
        at_risk.update(user_id for user_id, missed in pending.items() if held[user_id] >= missed)
    return at_risk


def streak_at_risk_states(
    *, now: datetime.datetime | None = None, min_streak_days: int = 1, from_local_hour: int = 0
) -> list[StreakState]:
    """The streaks at risk today (`streak_at_risk_user_ids`) of learners for whom it is
    `from_local_hour` o'clock or later, in learner id order.

    What the at-risk moments and engagement's alert rule both warn about: late enough in the
    learner's day that the usual study time has passed, early enough to save the streak.
    The queries of `streak_at_risk_user_ids`, then those of `streak_states`.
    """
    now = now or timezone.now()
    at_risk = streak_at_risk_user_ids(now=now, min_streak_days=min_streak_days)
    if not at_risk:
        return []
    states = streak_states(user_ids=at_risk, now=now)
    return [
        state
        for _, state in sorted(states.items())
        if state.local_now.hour >= from_local_hour and state.at_risk_today
    ]


def streak_day_list(*, user_id: int | None = None) -> QuerySet[StreakDay]:
    """Streak days, newest first, with the learner (optionally one learner's)."""
    days = StreakDay.objects.select_related("user").order_by("-date", "user_id")
    return days.filter(user_id=user_id) if user_id is not None else days


def milestones_reached_list(*, user_id: int) -> QuerySet[StreakMilestoneReached]:
    """The milestones a learner has reached, newest first, with the milestone."""
    return (
        StreakMilestoneReached.objects.filter(user_id=user_id)
        .select_related("milestone")
        .order_by("-reached_on", "-id")
    )
