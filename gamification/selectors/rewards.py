"""Reads for rewards: what a learner holds, and the history of grants and uses.

A learner holds, of each reward, the units granted minus the uses not refunded; nothing
stores a balance, so the inventory can never disagree with its history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import User
from core.lookups import any_of
from gamification.defaults_rewards import STREAK_FREEZE
from gamification.models import Reward, RewardGrant, RewardUse


@dataclass(frozen=True, slots=True)
class RewardHolding:
    """Units of one reward a learner holds now, with what the reward is."""

    code: str
    kind: str
    name: str
    description: str
    value: str
    held: int
    max_held: int | None


def reward_holdings(*, user_ids: Iterable[int], reward_code: str) -> dict[int, int]:
    """Units of reward `reward_code` each learner holds (0 for none), in two grouped queries."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    held = dict.fromkeys(ids, 0)
    grants = (
        RewardGrant.objects.filter(any_of("user_id", ids), reward__code=reward_code)
        .values("user_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("user_id", "n")
    )
    for user_id, n in grants:
        held[user_id] += n or 0
    uses = (
        RewardUse.objects.filter(
            any_of("user_id", ids), reward__code=reward_code, refunded_at__isnull=True
        )
        .values("user_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user_id", "n")
    )
    for user_id, n in uses:
        held[user_id] -= n
    return {user_id: max(0, n) for user_id, n in held.items()}


def freezes_held(*, user_ids: Iterable[int]) -> dict[int, int]:
    """Streak freezes each learner holds now (two grouped queries)."""
    return reward_holdings(user_ids=user_ids, reward_code=STREAK_FREEZE)


def reward_inventory(user_id: int) -> list[RewardHolding]:
    """What the learner holds now: each reward with at least one unit, catalogue order.

    Three queries (grants per reward, uses per reward, the rewards held).
    """
    held: dict[int, int] = {}
    for reward_id, n in (
        RewardGrant.objects.filter(user_id=user_id)
        .values("reward_id")
        .annotate(n=Sum("quantity"))
        .order_by()
        .values_list("reward_id", "n")
    ):
        held[reward_id] = n or 0
    for reward_id, n in (
        RewardUse.objects.filter(user_id=user_id, refunded_at__isnull=True)
        .values("reward_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("reward_id", "n")
    ):
        held[reward_id] = held.get(reward_id, 0) - n
    positive = {reward_id: n for reward_id, n in held.items() if n > 0}
    if not positive:
        return []
    return [
        RewardHolding(
            code=reward.code,
            kind=reward.kind,
            name=reward.name,
            description=reward.description,
            value=reward.value,
            held=positive[reward.pk],
            max_held=reward.max_held,
        )
        for reward in Reward.objects.filter(pk__in=positive).order_by("kind", "code")
    ]


def reward_get(*, code: str) -> Reward | None:
    """The catalogue's reward with this code, or None (one query)."""
    return Reward.objects.filter(code=code).first()


def reward_grant_list(*, user_id: int | None = None) -> QuerySet[RewardGrant]:
    """Grants, newest first, with their reward and learner (optionally one learner's)."""
    grants = RewardGrant.objects.select_related("reward", "user", "granted_by")
    return grants.filter(user_id=user_id) if user_id is not None else grants


def reward_use_list(*, user_id: int | None = None) -> QuerySet[RewardUse]:
    """Uses, newest first, with their reward and learner (optionally one learner's)."""
    uses = RewardUse.objects.select_related("reward", "user")
    return uses.filter(user_id=user_id) if user_id is not None else uses


def learners_find(*, identifiers: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    """Learners named by email or external id: ({identifier: user id}, [not found]).

    For staff pages that take a list of learners (grant a reward, unlock an achievement).
    One query.
    """
    wanted = list(dict.fromkeys(i.strip() for i in identifiers if i and i.strip()))
    if not wanted:
        return {}, []
    found: dict[str, int] = {}
    lowered = {i.lower(): i for i in wanted}
    for pk, email, external_id in User.objects.filter(
        Q(email__in=list(lowered)) | Q(external_id__in=wanted)
    ).values_list("pk", "email", "external_id"):
        if external_id in wanted:
            found[external_id] = pk
        if email and email.lower() in lowered:
            found[lowered[email.lower()]] = pk
    return found, [i for i in wanted if i not in found]
