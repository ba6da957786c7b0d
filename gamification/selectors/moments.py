"""Reads of a learner's moments (level-ups, unlocks, milestones, league results) for the pages."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from gamification.models import Moment


@dataclass(frozen=True, slots=True)
class MomentItem:
    """One moment as a page or an API answer shows it."""

    id: int
    kind: str
    kind_label: str
    title: str
    body: str
    data: dict[str, Any]
    occurred_at: datetime.datetime
    seen_at: datetime.datetime | None

    @property
    def seen(self) -> bool:
        return self.seen_at is not None


def _item(moment: Moment) -> MomentItem:
    return MomentItem(
        id=moment.pk,
        kind=moment.kind,
        kind_label=moment.get_kind_display(),
        title=moment.title,
        body=moment.body,
        data=dict(moment.data or {}),
        occurred_at=moment.occurred_at,
        seen_at=moment.seen_at,
    )


def moment_list(*, user_id: int, limit: int = 10, unseen_only: bool = False) -> list[MomentItem]:
    """The learner's latest moments, newest first, at most `limit` (one query)."""
    moments = Moment.objects.filter(user_id=user_id)
    if unseen_only:
        moments = moments.filter(seen_at__isnull=True)
    return [_item(moment) for moment in moments.order_by("-occurred_at", "-id")[:limit]]


def moments_unseen_count(*, user_id: int) -> int:
    """How many of the learner's moments they have not yet dismissed (one query)."""
    return Moment.objects.filter(user_id=user_id, seen_at__isnull=True).count()
