"""Rule candidates from silence: enrolled learners with no activity, or no login, for days."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, Max, QuerySet, Subquery

from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from engagement.selectors.alerts.candidate import DAY, AlertCandidate, active_enrollments

SESSION_TYPES = ("login", "session_start")


def _activity() -> QuerySet[Event]:
    return Event.objects.exclude(type__in=NON_ACTIVITY_TYPES)


def _silent_since(
    events: QuerySet[Event],
    enrollments: QuerySet,
    *,
    now: datetime.datetime,
    days: int,
    what: str,
    key: str,
) -> list[AlertCandidate]:
    """Enrolled learners whose latest of `events` is `days`+ days old, with their course."""
    rows = (
        events.filter(Exists(enrollments))
        .values("user_id")
        .annotate(last=Max("occurred_at"))
        .filter(last__lte=now - days * DAY)
        .annotate(course_id=Subquery(enrollments.order_by("-enrolled_at").values("course_id")[:1]))
        .values_list("user_id", "last", "course_id")
    )
    candidates = []
    for user_id, last, course_id in rows.iterator():
        silent = (now - last).days
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"No {what} for {silent} days",
                context={f"days_since_{key}": silent, f"last_{key}_at": last.isoformat()},
                course_id=course_id,
            )
        )
    return candidates


def inactive_14_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolled learners last active `days`+ days ago but within `active_within_days`."""
    return _silent_since(
        _activity().filter(occurred_at__gte=now - int(params["active_within_days"]) * DAY),
        active_enrollments(),
        now=now,
        days=int(params["days"]),
        what="activity",
        key="activity",
    )


def no_login_7_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners with a running enrollment whose last login/session is `days`+ days old.

    Only learners seen logging in within `lookback_days` count, so that an integration that
    never sends logins does not flag everyone.
    """
    return _silent_since(
        Event.objects.filter(
            type__in=SESSION_TYPES,
            occurred_at__gte=now - int(params["lookback_days"]) * DAY,
        ),
        active_enrollments(on=now.date()),
        now=now,
        days=int(params["days"]),
        what="login",
        key="login",
    )
