"""A learner's in-app messages, as the student pages and the "me" API show them."""

from __future__ import annotations

from django.db.models import QuerySet

from interventions.models import Channel, Delivery

SHOWN = (
    Delivery.Status.DELIVERED,
    Delivery.Status.OPENED,
    Delivery.Status.CLICKED,
    Delivery.Status.CONVERTED,
)


def notification_list(*, user_id: int) -> QuerySet[Delivery]:
    """The learner's delivered in-app messages, newest first (with their tracked link)."""
    return (
        Delivery.objects.filter(user_id=user_id, channel=Channel.IN_APP, status__in=SHOWN)
        .select_related("template")
        .prefetch_related("links")
        .order_by("-sent_at", "-id")
    )


def unread_notification_count(*, user_id: int) -> int:
    """How many of them are unread (one query)."""
    return notification_list(user_id=user_id).filter(read_at=None).count()
