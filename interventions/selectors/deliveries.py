"""Reads of deliveries."""

from __future__ import annotations

from collections.abc import Iterable

from interventions.models import Delivery


def deliveries_by_id(*, ids: Iterable[int]) -> dict[int, Delivery]:
    """The deliveries with these ids, with only their status and due time (one query)."""
    return {
        d.pk: d for d in Delivery.objects.filter(pk__in=list(ids)).only("id", "status", "due_at")
    }
