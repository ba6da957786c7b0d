"""Reads of stored alerts: the staff list, and who may not get a new alert of a rule yet."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet

from engagement.models import Alert


def alert_list() -> QuerySet[Alert]:
    """Alerts, highest priority and newest first, with rule, learner and course loaded."""
    return Alert.objects.select_related("rule", "user", "course").order_by(
        "-priority", "-created_at", "-id"
    )


def alert_blocked_user_ids(
    *, rule_id: int, now: datetime.datetime, cooldown_hours: int
) -> set[int]:
    """Learners who must not get a new alert of this rule: unresolved, or inside the cooldown."""
    since = now - datetime.timedelta(hours=cooldown_hours)
    return set(
        Alert.objects.filter(rule_id=rule_id)
        .filter(
            Q(status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]) | Q(created_at__gt=since)
        )
        .values_list("user_id", flat=True)
    )
