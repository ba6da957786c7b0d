"""Rule candidates from learners' local days: a weak first week (per enrolment), a streak about
to break (about the learner: no course)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from core.localtime import local_date
from engagement.selectors.alerts.candidate import DAY, AlertCandidate
from engagement.selectors.alerts.local_dates import enrolment_local_dates
from gamification.selectors.streaks import streak_at_risk_states
from learning.models import Enrollment


def weak_first_week_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Active enrolments 7-14 days old whose learner studied on < 2 of their first 7 days.

    Per enrolment: the days count activity in that course and activity that names no course.
    Days are the learner's local days: the enrolment's own day and the following ones. Two
    queries (the enrolments with their learners' timezones, and their local active dates).
    """
    first_days = int(params["first_days"])
    enrolments = list(
        Enrollment.objects.filter(
            status=Enrollment.Status.ACTIVE,
            enrolled_at__gt=now - int(params["max_days_since_enrollment"]) * DAY,
            enrolled_at__lte=now - int(params["min_days_since_enrollment"]) * DAY,
        ).values_list("user_id", "course_id", "enrolled_at", "user__timezone")
    )
    if not enrolments:
        return []
    active = enrolment_local_dates(
        since=min(row[2] for row in enrolments) - DAY,
        until=now,
        user_ids={row[0] for row in enrolments},
    )
    candidates = []
    for user_id, course_id, enrolled_at, tz_name in enrolments:
        start = local_date(enrolled_at, tz_name)
        end = start + datetime.timedelta(days=first_days - 1)
        dates = (
            active.get((user_id, course_id), ("", set()))[1]
            | (active.get((user_id, None), ("", set()))[1])
        )
        days = {d for d in dates if start <= d <= end}
        if len(days) >= int(params["min_active_days"]):
            continue
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"Active on {len(days)} of the first {first_days} days after enrolling",
                context={
                    "active_days": len(days),
                    "first_days": first_days,
                    "enrolled_at": enrolled_at.isoformat(),
                },
                course_id=course_id,
            )
        )
    return candidates


def streak_at_risk_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose streak of `min_streak_days`+ days is at risk today, late on.

    "At risk" and "late" are gamification's one definition (`streak_at_risk_states`: the
    streak is alive through yesterday and nothing came yet today, in the learner's local days,
    freezes counted; and it is `local_hour` o'clock or later in the learner's own timezone),
    so that the alert comes while there is still time to save the streak.
    """
    candidates = []
    for state in streak_at_risk_states(
        now=now,
        min_streak_days=int(params["min_streak_days"]),
        from_local_hour=int(params["local_hour"]),
    ):
        ends = "a freeze covers tonight" if state.freezes_held else "ends tonight"
        candidates.append(
            AlertCandidate(
                user_id=state.user_id,
                message=f"{state.current}-day streak {ends}: no activity yet today",
                context={
                    "streak_days": state.current,
                    "freezes_held": state.freezes_held,
                    "local_time": state.local_now.strftime("%H:%M"),
                    "timezone": state.tz_name,
                },
            )
        )
    return candidates
