"""A learner dismisses their moments: the pages stop showing them as new notices."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from gamification.models import Moment


def moments_mark_seen(*, user_id: int, moment_ids: Iterable[int] | None = None) -> int:
    """Mark the learner's unseen moments seen (only those in `moment_ids` when given).

    Only the learner's own moments change, whatever ids are passed, and a moment already seen
    keeps its first time; returns how many were marked. One UPDATE, so a repeat is harmless.
    """
    moments = Moment.objects.filter(user_id=user_id, seen_at__isnull=True)
    if moment_ids is not None:
        moments = moments.filter(pk__in=list(moment_ids))
    return moments.update(seen_at=timezone.now())
