"""The learners' usual study hour, for sending a message when they are likely to read it."""

from __future__ import annotations

from collections.abc import Iterable

from engagement.models import PersonalizationProfile


def best_send_hours(*, user_ids: Iterable[int]) -> dict[int, int]:
    """Each learner's best local send hour (0-23) from their study profile, for those whose
    profile has one (one query)."""
    return dict(
        PersonalizationProfile.objects.filter(
            user_id__in=list(user_ids), best_send_hour__isnull=False
        ).values_list("user_id", "best_send_hour")
    )
