"""Reading in-app messages: reading one is its open."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models.functions import Coalesce
from django.utils import timezone

from interventions.models import Channel, Delivery

_UNOPENED = (Delivery.Status.DELIVERED,)


def notifications_mark_read(
    *,
    user_id: int,
    delivery_ids: Iterable[int] | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Mark the learner's in-app messages read (these ids, or all); return how many changed.
    Only the learner's own messages are touched, whatever ids are given."""
    now = now or timezone.now()
    mine = Delivery.objects.filter(user_id=user_id, channel=Channel.IN_APP, read_at=None)
    if delivery_ids is not None:
        mine = mine.filter(pk__in=list(delivery_ids))
    ids = list(mine.values_list("pk", flat=True))
    changed = Delivery.objects.filter(pk__in=ids).update(
        read_at=now, opened_at=Coalesce("opened_at", now)
    )
    Delivery.objects.filter(pk__in=ids, status__in=_UNOPENED).update(status=Delivery.Status.OPENED)
    Delivery.objects.filter(pk__in=ids, opens=0).update(opens=1)
    return changed
