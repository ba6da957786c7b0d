"""Reads for XP: the actions catalogue as plain specs, a learner's ledger and refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import QuerySet

from gamification.models import XpAction, XpRefusal, XpTransaction


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One XP action as the award code reads it: amount, the events that earn it, limits."""

    id: int
    code: str
    name: str
    amount: int
    event_types: tuple[str, ...]
    condition: str
    repeat: str
    daily_cap: int | None
    min_interval: timedelta
    burst_limit: int | None
    burst_window: timedelta
    is_active: bool


@dataclass(frozen=True)
class ActionCatalogue:
    """Every XP action by code and by id, and the active ones by the event type earning them."""

    by_code: dict[str, ActionSpec] = field(default_factory=dict)
    by_id: dict[int, ActionSpec] = field(default_factory=dict)
    by_event_type: dict[str, tuple[ActionSpec, ...]] = field(default_factory=dict)


def xp_action_catalogue() -> ActionCatalogue:
    """The whole actions catalogue, read in one query (it has a few dozen rows)."""
    specs = [
        ActionSpec(
            id=action.pk,
            code=action.code,
            name=action.name,
            amount=action.amount,
            event_types=tuple(t for t in action.event_types or () if isinstance(t, str)),
            condition=action.condition or "",
            repeat=action.repeat,
            daily_cap=action.daily_cap,
            min_interval=timedelta(seconds=action.min_interval_seconds),
            burst_limit=action.burst_limit,
            burst_window=timedelta(seconds=action.burst_window_seconds),
            is_active=action.is_active,
        )
        for action in XpAction.objects.order_by("code")
    ]
    by_event_type: dict[str, list[ActionSpec]] = {}
    for spec in specs:
        if spec.is_active and spec.amount > 0:
            for event_type in dict.fromkeys(spec.event_types):
                by_event_type.setdefault(event_type, []).append(spec)
    return ActionCatalogue(
        by_code={spec.code: spec for spec in specs},
        by_id={spec.id: spec for spec in specs},
        by_event_type={key: tuple(value) for key, value in by_event_type.items()},
    )


def xp_ledger_list(*, user_id: int) -> QuerySet[XpTransaction]:
    """A learner's ledger, newest first, with the action and the staff member joined."""
    return (
        XpTransaction.objects.filter(user_id=user_id)
        .select_related("action", "created_by")
        .order_by("-occurred_at", "-id")
    )


def xp_refusal_list(*, user_id: int) -> QuerySet[XpRefusal]:
    """The awards anti-cheat refused a learner, newest first, with the action joined."""
    return (
        XpRefusal.objects.filter(user_id=user_id)
        .select_related("action")
        .order_by("-occurred_at", "-id")
    )
