"""ESP tracking events (anymail's normalised `tracking` signal, from any ESP's webhook) update
the delivery they are about, found by the provider's message id: delivered, opened, clicked,
bounced, complained, unsubscribed. Hard bounces and complaints put the address on the
suppression list that every send checks; an ESP unsubscribe opts the learner out of email.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from interventions.models import Channel, ChannelOptOut, Delivery, Suppression

logger = logging.getLogger(__name__)

# Statuses an ESP event may move a delivery on from; a later stage is never undone.
_MAY_BECOME: dict[str, tuple[str, ...]] = {
    Delivery.Status.DELIVERED: (Delivery.Status.SENT,),
    Delivery.Status.OPENED: (Delivery.Status.SENT, Delivery.Status.DELIVERED),
    Delivery.Status.CLICKED: (
        Delivery.Status.SENT,
        Delivery.Status.DELIVERED,
        Delivery.Status.OPENED,
    ),
    Delivery.Status.BOUNCED: (Delivery.Status.SENT, Delivery.Status.DELIVERED),
    Delivery.Status.COMPLAINED: (
        Delivery.Status.SENT,
        Delivery.Status.DELIVERED,
        Delivery.Status.OPENED,
        Delivery.Status.CLICKED,
    ),
}


def esp_event_record(
    *,
    event_type: str,
    message_id: str | None,
    recipient: str | None,
    timestamp: Any = None,
    permanent: bool = True,
) -> bool:
    """Apply one normalised ESP event (anymail's event types); return whether a delivery
    matched. Unknown message ids are logged and ignored (another system's mail)."""
    at = timestamp or timezone.now()
    delivery = (
        Delivery.objects.filter(provider_message_id=message_id).first() if message_id else None
    )
    if (
        event_type in ("bounced", "complained")
        and recipient
        and (permanent or event_type == "complained")
    ):
        Suppression.objects.bulk_create(
            [Suppression(address=recipient.strip().lower(), reason=event_type)],
            ignore_conflicts=True,
        )
    if delivery is None:
        logger.info("ESP %s event for unknown message %r", event_type, message_id)
        return False
    rows = Delivery.objects.filter(pk=delivery.pk)
    if event_type == "delivered":
        rows.update(delivered_at=Coalesce(F("delivered_at"), at))
        _advance(rows, Delivery.Status.DELIVERED)
    elif event_type == "opened":
        rows.update(opens=F("opens") + 1, opened_at=Coalesce(F("opened_at"), at))
        _advance(rows, Delivery.Status.OPENED)
    elif event_type == "clicked":
        rows.update(
            clicks=F("clicks") + 1,
            clicked_at=Coalesce(F("clicked_at"), at),
            opened_at=Coalesce(F("opened_at"), at),
        )
        _advance(rows, Delivery.Status.CLICKED)
    elif event_type == "bounced" and permanent:
        rows.update(failed_at=Coalesce(F("failed_at"), at))
        _advance(rows, Delivery.Status.BOUNCED)
    elif event_type == "complained":
        _advance(rows, Delivery.Status.COMPLAINED)
        _opt_out(delivery.user_id, "spam complaint")
    elif event_type == "unsubscribed":
        rows.update(status=Delivery.Status.UNSUBSCRIBED)
        _opt_out(delivery.user_id, "unsubscribed at the email provider")
    return True


def _advance(rows: Any, status: str) -> None:
    rows.filter(status__in=_MAY_BECOME[status]).update(status=status)


def _opt_out(user_id: int, reason: str) -> None:
    ChannelOptOut.objects.bulk_create(
        [ChannelOptOut(user_id=user_id, channel=Channel.EMAIL, reason=reason)],
        ignore_conflicts=True,
    )
