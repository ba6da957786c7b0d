"""Rule candidates from silence: enrolments with no activity, or learners with no login, for days.

No activity is per enrolment: the last event of the course, or any event that names no
course (a login counts for every enrolment, as in scoring). No login is about the learner:
logins name no course, so that alert has none.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, Max, QuerySet

from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.selectors.alerts.candidate import DAY, AlertCandidate, active_enrollments
from learning.models import Enrollment

SESSION_TYPES = ("login", "session_start")


def _activity() -> QuerySet[Event]:
    return Event.objects.exclude(type__in=NON_ACTIVITY_TYPES)


def inactive_14_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Active enrolments last active `days`+ days ago but within `active_within_days`.

    Two queries: the active enrolments, and the last activity per learner and course (events
    without a course in their own group, counting for each of the learner's enrolments).
    """
    days = int(params["days"])
    since = now - int(params["active_within_days"]) * DAY
    events = _activity().filter(occurred_at__gte=since, occurred_at__lte=now)
    last: dict[tuple[int, int | None], datetime.datetime] = {
        (user_id, course_id): at
        for user_id, course_id, at in events.filter(Exists(active_enrollments()))
        .values("user_id", "course_id")
        .annotate(last=Max("occurred_at"))
        .order_by()
        .values_list("user_id", "course_id", "last")
        .iterator()
    }
    if not last:
        return []
    users = {user_id for user_id, _ in last}
    candidates = []
    enrolments = Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)
    for user_id, course_id in enrolments.values_list("user_id", "course_id").iterator():
        if user_id not in users:
            continue
        seen = [at for at in (last.get((user_id, course_id)), last.get((user_id, None))) if at]
        if not seen:
            continue  # never active in this course within the lookback: not this rule's case
        latest = max(seen)
        if latest > now - days * DAY:
            continue
        silent = (now - latest).days
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"No activity for {silent} days",
                context={"days_since_activity": silent, "last_activity_at": latest.isoformat()},
                course_id=course_id,
            )
        )
    return candidates


def no_login_7_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners with a running enrollment whose last login/session is `days`+ days old.

    Only learners seen logging in within `lookback_days` count, so that an integration that
    never sends logins does not flag everyone. About the learner, not a course: no course.
    """
    days = int(params["days"])
    rows = (
        Event.objects.filter(
            type__in=SESSION_TYPES,
            occurred_at__gte=now - int(params["lookback_days"]) * DAY,
        )
        .filter(Exists(active_enrollments(on=now.date())))
        .values("user_id")
        .annotate(last=Max("occurred_at"))
        .filter(last__lte=now - days * DAY)
        .order_by()
        .values_list("user_id", "last")
    )
    return [
        AlertCandidate(
            user_id=user_id,
            message=f"No login for {(now - last).days} days",
            context={"days_since_login": (now - last).days, "last_login_at": last.isoformat()},
        )
        for user_id, last in rows.iterator()
    ]
