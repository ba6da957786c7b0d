"""Rule candidates from learners' local days: a weak first week, a streak about to break."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, Min

from accounts.models import User
from core.localtime import local_date, local_datetime
from engagement.selectors.alerts.candidate import DAY, AlertCandidate, active_enrollments
from engagement.selectors.alerts.local_dates import learner_local_dates
from learning.models import Enrollment


def weak_first_week_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose first enrollment is 7-14 days old and who studied on < 2 of its 7 days.

    Days are the learner's local days: the enrollment's own day and the following ones.
    """
    first_days = int(params["first_days"])
    firsts = (
        Enrollment.objects.values("user_id")
        .annotate(first=Min("enrolled_at"))
        .filter(
            first__gt=now - int(params["max_days_since_enrollment"]) * DAY,
            first__lte=now - int(params["min_days_since_enrollment"]) * DAY,
        )
        .filter(Exists(active_enrollments()))
    )
    first_at = {user_id: first for user_id, first in firsts.values_list("user_id", "first")}
    if not first_at:
        return []
    first_course = {
        user_id: course_id
        for user_id, course_id, enrolled_at in Enrollment.objects.filter(
            user_id__in=first_at
        ).values_list("user_id", "course_id", "enrolled_at")
        if enrolled_at == first_at[user_id]
    }
    zones = dict(User.objects.filter(id__in=first_at).values_list("id", "timezone"))
    active = learner_local_dates(
        since=min(first_at.values()) - DAY, until=now, user_ids=first_at.keys()
    )
    candidates = []
    for user_id, first in first_at.items():
        start = local_date(first, zones[user_id])
        end = start + datetime.timedelta(days=first_days - 1)
        days = {d for d in active.get(user_id, ("", set()))[1] if start <= d <= end}
        if len(days) >= int(params["min_active_days"]):
            continue
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"Active on {len(days)} of the first {first_days} days after enrolling",
                context={
                    "active_days": len(days),
                    "first_days": first_days,
                    "enrolled_at": first.isoformat(),
                },
                course_id=first_course.get(user_id),
            )
        )
    return candidates


def streak_at_risk_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners active each of the last `min_streak_days`+ local days, not yet today, late on.

    "Late" is `local_hour` o'clock or later in the learner's own timezone, so that the alert
    comes while there is still time to save the streak.
    """
    min_streak = int(params["min_streak_days"])
    lookback = min_streak + 7  # enough to tell a streak's length, cheap enough hourly
    active = learner_local_dates(since=now - (lookback + 1) * DAY, until=now)
    candidates = []
    for user_id, (tz_name, days) in active.items():
        local_now = local_datetime(now, tz_name)
        today = local_now.date()
        if local_now.hour < int(params["local_hour"]) or today in days:
            continue
        streak = 0
        while today - datetime.timedelta(days=streak + 1) in days:
            streak += 1
        if streak < min_streak:
            continue
        shown = f"{streak}+" if streak >= lookback else str(streak)
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"{shown}-day streak ends tonight: no activity yet today",
                context={
                    "streak_days": streak,
                    "local_time": local_now.strftime("%H:%M"),
                    "timezone": tz_name,
                },
            )
        )
    return candidates
