"""Conversions: a learner doing what a message asked (its template's goal event) within the
attribution window after it was sent marks the delivery converted, the event as evidence.

`conversions_record` is a handler of ingestion (STRIDE_EVENT_HANDLERS), called with each
stored batch inside its transaction: one query finds the learners' deliveries that a batch's
goal events could convert, one update per converted delivery.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import F

from core.errors import DomainValidationError
from core.records import EventRecord
from interventions.models import Delivery, MessageTemplate

CONVERTIBLE = (
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.OPENED,
    Delivery.Status.CLICKED,
)


def _goal_types() -> dict[str, int]:
    """Goal event types of active templates, with the longest attribution window (hours)."""
    windows: dict[str, int] = {}
    for goal, hours in MessageTemplate.objects.exclude(goal_event="").values_list(
        "goal_event", "attribution_hours"
    ):
        windows[goal] = max(hours, windows.get(goal, 0))
    return windows


def conversions_record(events: Sequence[EventRecord]) -> int:
    """Mark converted the deliveries whose goal event the batch holds; return how many."""
    windows = _goal_types()
    goals = [e for e in events if e.type in windows]
    if not goals:
        return 0
    by_user: dict[int, list[EventRecord]] = defaultdict(list)
    for event in sorted(goals, key=lambda e: e.occurred_at):  # earliest evidence first
        by_user[event.user_id].append(event)
    earliest = min(e.occurred_at for e in goals) - datetime.timedelta(hours=max(windows.values()))
    candidates = (
        Delivery.objects.filter(
            user_id__in=list(by_user),
            status__in=CONVERTIBLE,
            template__goal_event__in=list({e.type for e in goals}),
            sent_at__gte=earliest,
        )
        .annotate(goal=F("template__goal_event"), hours=F("template__attribution_hours"))
        .order_by("sent_at", "id")
        .only("id", "user_id", "sent_at")
    )
    converted = 0
    for delivery in candidates:
        window = datetime.timedelta(hours=delivery.hours)
        evidence = next(
            (
                e
                for e in by_user[delivery.user_id]
                if e.type == delivery.goal
                and delivery.sent_at <= e.occurred_at <= delivery.sent_at + window
            ),
            None,
        )
        if evidence is None:
            continue
        converted += Delivery.objects.filter(pk=delivery.pk, status__in=CONVERTIBLE).update(
            status=Delivery.Status.CONVERTED,
            converted_at=evidence.occurred_at,
            conversion_event_id=evidence.id,
        )
    return converted


def delivery_conversion_record(
    *, delivery_id: int, at: datetime.datetime, event_id: int | None = None
) -> Delivery:
    """Mark a sent delivery converted at `at` (an explicit conversion, e.g. a purchase the
    platform reports) and return it. A delivery not sent yet, or converted already, is left
    as it is (a retried report changes nothing); a conversion before the send is refused."""
    delivery = Delivery.objects.filter(pk=delivery_id).only("id", "status", "sent_at").first()
    if delivery is None:
        raise DomainValidationError({"delivery": f"No delivery has the id {delivery_id}."})
    if delivery.sent_at and at < delivery.sent_at:
        raise DomainValidationError(
            {"occurred_at": "The conversion is dated before the message was sent."}
        )
    Delivery.objects.filter(pk=delivery_id, status__in=CONVERTIBLE).update(
        status=Delivery.Status.CONVERTED, converted_at=at, conversion_event_id=event_id
    )
    return Delivery.objects.only("id", "status", "converted_at").get(pk=delivery_id)
