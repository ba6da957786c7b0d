"""Rewards: granting units of a reward to a learner and spending them, each recorded once.

Every grant is a `RewardGrant` and every spent unit a `RewardUse`, both with a unique
idempotency key, so a retried call changes nothing and answers what the first one did.
What a learner holds is derived (grants minus unrefunded uses, `selectors.rewards`).

A reward may cap what one learner holds (`Reward.max_held`; 2 for streak freezes). A grant
that would go past the cap is *capped*, not refused: it gives what fits (possibly nothing),
records how much was asked for and says so in its result, so that a milestone paid to a
learner who already holds two freezes still counts as paid and is never paid again. A
refunded use (a late event repaired the day a freeze covered) gives the unit back only if
the learner holds fewer than the cap then; otherwise the use stays spent.

Writes for one learner are serialised on their `LearnerGameProfile` row (SELECT ... FOR
UPDATE), the one lock every gamification write for a learner takes first, so that two
concurrent grants cannot both see room under the cap.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import DomainValidationError
from core.lookups import any_of
from gamification.models import LearnerGameProfile, Moment, Reward, RewardGrant, RewardUse
from gamification.selectors.rewards import reward_holdings
from gamification.services.moments import moment_record

KEY_MAX = RewardGrant._meta.get_field("idempotency_key").max_length
REASON_MAX = RewardGrant._meta.get_field("reason").max_length
SOURCE_MAX = RewardGrant._meta.get_field("source").max_length


@dataclass(frozen=True, slots=True)
class RewardGrantResult:
    """What a grant did: units given (after the cap), units asked for, and what is held now."""

    reward_code: str
    requested: int
    granted: int
    held: int
    replayed: bool

    @property
    def capped(self) -> bool:
        return self.granted < self.requested


@dataclass(frozen=True, slots=True)
class RewardUseResult:
    """What a use did: whether a unit was spent by this call, and what is held now."""

    reward_code: str
    used: bool
    held: int
    replayed: bool


def learners_lock(user_ids: Iterable[int]) -> None:
    """Lock the learners' profile rows (creating missing ones) in id order, until the commit.

    Every gamification write that reads a learner's state and writes from it takes this lock
    first, in the same order, so that concurrent writers queue instead of racing or
    deadlocking. Call inside a transaction.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return
    locked = set(_lock(ids))
    missing = [user_id for user_id in ids if user_id not in locked]
    if missing:
        # A concurrent writer creating the same profile makes this wait for its commit, then
        # skip the row; the lock below then holds it.
        LearnerGameProfile.objects.bulk_create(
            [LearnerGameProfile(user_id=user_id) for user_id in missing], ignore_conflicts=True
        )
        _lock(missing)


def _lock(user_ids: Sequence[int]) -> list[int]:
    return list(
        LearnerGameProfile.objects.select_for_update()
        .filter(any_of("user_id", user_ids))
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def _reward(code: str, field: str = "reward") -> Reward:
    reward = Reward.objects.filter(code=code).first()
    if reward is None or not reward.is_active:
        raise DomainValidationError({field: f"No active reward has the code '{code}'."})
    return reward


def _check_text(errors: dict[str, str], field: str, value: str, limit: int, required: bool):
    if required and not value.strip():
        errors[field] = "This field is required."
    elif len(value) > limit:
        errors[field] = f"At most {limit} characters."


def reward_grant(
    *,
    user_id: int,
    reward_code: str,
    quantity: int = 1,
    source: str,
    reason: str = "",
    idempotency_key: str,
    granted_by_id: int | None = None,
    occurred_at: datetime.datetime | None = None,
    record_moment: bool = True,
) -> RewardGrantResult:
    """Give `quantity` units of a reward to a learner once per key, capped by `max_held`.

    A replayed key answers what the first grant did and changes nothing (a key reused for
    another learner or reward is an error). A grant that gives at least one unit records a
    `reward_granted` moment unless `record_moment` is false (a milestone tells of its own).
    Raises DomainValidationError naming the field at fault.
    """
    errors: dict[str, str] = {}
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1000:
        errors["quantity"] = "A whole number from 1 to 1000."
    _check_text(errors, "idempotency_key", idempotency_key, KEY_MAX, required=True)
    _check_text(errors, "source", source, SOURCE_MAX, required=True)
    _check_text(errors, "reason", reason, REASON_MAX, required=False)
    if errors:
        raise DomainValidationError(errors)
    reward = _reward(reward_code)
    if not User.objects.filter(pk=user_id).exists():
        raise DomainValidationError({"user": "No such learner."})
    with transaction.atomic():
        learners_lock([user_id])
        # Looked up under the learner's lock: a concurrent call with the same key has
        # committed by now, or is waiting behind us.
        stored = RewardGrant.objects.filter(idempotency_key=idempotency_key).first()
        if stored is not None:
            return _grant_replayed(stored, user_id=user_id, reward=reward)
        held = reward_holdings(user_ids=[user_id], reward_code=reward.code)[user_id]
        granted = (
            quantity if reward.max_held is None else max(0, min(quantity, reward.max_held - held))
        )
        try:
            with transaction.atomic():
                grant = RewardGrant.objects.create(
                    user_id=user_id,
                    reward=reward,
                    quantity=granted,
                    requested_quantity=quantity,
                    source=source,
                    reason=reason,
                    idempotency_key=idempotency_key,
                    granted_by_id=granted_by_id,
                    created_at=occurred_at or timezone.now(),
                )
        except IntegrityError:
            # The same key for another learner committed meanwhile (their lock is not ours).
            stored = RewardGrant.objects.get(idempotency_key=idempotency_key)
            return _grant_replayed(stored, user_id=user_id, reward=reward)
        if granted and record_moment:
            moment_record(
                user_id=user_id,
                kind=Moment.Kind.REWARD_GRANTED,
                title=_granted_title(reward, granted),
                body=reward.description,
                data={"reward": reward.code, "quantity": granted, "source": source},
                dedupe_key=f"reward_granted:{grant.pk}",
                occurred_at=grant.created_at,
            )
    return RewardGrantResult(
        reward_code=reward.code,
        requested=quantity,
        granted=granted,
        held=held + granted,
        replayed=False,
    )


def _granted_title(reward: Reward, quantity: int) -> str:
    return (
        f"You received {reward.name}"
        if quantity == 1
        else f"You received {quantity} x {reward.name}"
    )


def _grant_replayed(stored: RewardGrant, *, user_id: int, reward: Reward) -> RewardGrantResult:
    if stored.user_id != user_id or stored.reward_id != reward.pk:
        raise DomainValidationError(
            {"idempotency_key": "This key was used for another learner or reward."}
        )
    held = reward_holdings(user_ids=[user_id], reward_code=reward.code)[user_id]
    return RewardGrantResult(
        reward_code=reward.code,
        requested=stored.requested_quantity,
        granted=stored.quantity,
        held=held,
        replayed=True,
    )


def reward_use(
    *,
    user_id: int,
    reward_code: str,
    reason: str = "",
    reference: str = "",
    idempotency_key: str,
    occurred_at: datetime.datetime | None = None,
) -> RewardUseResult:
    """Spend one unit of a reward the learner holds, once per key.

    A replayed key answers the first use and spends nothing more. Raises
    DomainValidationError naming `reward` when the learner holds none, or the field at fault.
    """
    errors: dict[str, str] = {}
    _check_text(errors, "idempotency_key", idempotency_key, KEY_MAX, required=True)
    _check_text(errors, "reason", reason, REASON_MAX, required=False)
    _check_text(errors, "reference", reference, REASON_MAX, required=False)
    if errors:
        raise DomainValidationError(errors)
    reward = _reward(reward_code)
    if not User.objects.filter(pk=user_id).exists():
        raise DomainValidationError({"user": "No such learner."})
    with transaction.atomic():
        learners_lock([user_id])
        stored = RewardUse.objects.filter(idempotency_key=idempotency_key).first()
        held = reward_holdings(user_ids=[user_id], reward_code=reward.code)[user_id]
        if stored is not None:
            if stored.user_id != user_id or stored.reward_id != reward.pk:
                raise DomainValidationError(
                    {"idempotency_key": "This key was used for another learner or reward."}
                )
            return RewardUseResult(reward.code, used=True, held=held, replayed=True)
        if held < 1:
            raise DomainValidationError({"reward": f"The learner holds no {reward.name} to use."})
        try:
            with transaction.atomic():
                RewardUse.objects.create(
                    user_id=user_id,
                    reward=reward,
                    reason=reason,
                    reference=reference,
                    idempotency_key=idempotency_key,
                    created_at=occurred_at or timezone.now(),
                )
        except IntegrityError:
            stored = RewardUse.objects.get(idempotency_key=idempotency_key)
            if stored.user_id != user_id or stored.reward_id != reward.pk:
                raise DomainValidationError(
                    {"idempotency_key": "This key was used for another learner or reward."}
                ) from None
            return RewardUseResult(reward.code, used=True, held=held, replayed=True)
    return RewardUseResult(reward.code, used=True, held=held - 1, replayed=False)


# --- bulk pieces for the streak service (callers hold the learners' locks) ---------------


@dataclass(frozen=True, slots=True)
class UseDraft:
    """One unit to spend, for `reward_uses_insert`."""

    user_id: int
    reference: str
    reason: str
    idempotency_key: str


def reward_uses_insert(*, reward: Reward, uses: Sequence[UseDraft], at: datetime.datetime) -> int:
    """Record uses of `reward` in one INSERT, skipping keys already stored; return the count.

    The caller has checked, under the learners' locks, that each learner holds the units.
    """
    if not uses:
        return 0
    created = RewardUse.objects.bulk_create(
        [
            RewardUse(
                user_id=use.user_id,
                reward=reward,
                reference=use.reference,
                reason=use.reason,
                idempotency_key=use.idempotency_key,
                created_at=at,
            )
            for use in uses
        ],
        ignore_conflicts=True,
    )
    return len(created)


def reward_uses_refund(*, keys: Sequence[str], at: datetime.datetime) -> int:
    """Mark the unrefunded uses with these keys refunded (one UPDATE); return how many."""
    if not keys:
        return 0
    return RewardUse.objects.filter(idempotency_key__in=keys, refunded_at__isnull=True).update(
        refunded_at=at
    )
