"""Reads of stored alerts: the staff list, and which enrolments or learners may not get a new
alert of a rule yet."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet

from engagement.models import Alert


def alert_list() -> QuerySet[Alert]:
    """Alerts, highest priority and newest first, with rule, learner and course loaded."""
    return Alert.objects.select_related("rule", "user", "course").order_by(
        "-priority", "-created_at", "-id"
    )


def alert_blocked_keys(
    *, rule_id: int, now: datetime.datetime, cooldown_hours: int
) -> set[tuple[int, int | None]]:
    """(learner, course) pairs with an alert of this rule unresolved or inside the cooldown.

    Course None is an alert about the learner rather than one course. The service decides
    what a pair blocks (engagement.services.alerts).
    """
    since = now - datetime.timedelta(hours=cooldown_hours)
    return set(
        Alert.objects.filter(rule_id=rule_id)
        .filter(
            Q(status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]) | Q(created_at__gt=since)
        )
        .values_list("user_id", "course_id")
    )
