"""A learner chooses whether others see their name on leaderboards and in their league."""

from __future__ import annotations

from django.db import transaction

from gamification.models import LearnerGameProfile


@transaction.atomic
def leaderboard_visibility_set(*, user_id: int, show: bool) -> bool:
    """Show the learner by name on leaderboards and leagues (`show`), or as "a learner".

    Ranks are unchanged either way, and the learner always sees their own name; the boards
    read the choice when they are drawn, so nothing else needs rebuilding. A learner without
    a profile yet gets one (with no XP, as they have none). Returns the choice now stored.
    """
    LearnerGameProfile.objects.update_or_create(
        user_id=user_id, defaults={"show_on_leaderboards": show}
    )
    return show
