"""XP: awards with anti-cheat, staff grants and revocations, and totals rebuilt from the ledger.

Every change of XP is one row of the append-only ledger (`XpTransaction`) with a unique
idempotency key; a learner's total and level (`LearnerGameProfile`) are derived from it, in the
same transaction, and `xp_totals_rebuild` derives them again from the ledger alone.

Awards are serialised per learner: each writer locks the learner's profile row (created first
if need be) before it reads anything, so that daily caps, intervals and burst limits are
counted on committed rows only and cannot be raced, and a replayed key is seen by the replay.
An award is refused, and the refusal kept with its reason (`XpRefusal`), when

* the action is switched off;
* it is paid once (per learner, or per object) and was paid already;
* the action's daily cap is reached in the learner's own calendar day;
* the same action on the same object (`reference`) was paid less than its minimum interval
  before or after;
* it would make more than `burst_limit` awards of burst-limited actions within one span of
  the burst window.

A replayed idempotency key answers what the first call answered, from the stored row (the
ledger keeps the balance and level after each row, the refusal the balance at the time), and
changes nothing. `xp_award_claims` applies the same rules to a batch (ingested events, streak
days, unlocks) with a fixed number of queries. The rules are in `xp_limits`, the writing in
`xp_ledger`; this module is the interface.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import DomainValidationError, invalid_choice_message
from core.localtime import local_date
from gamification.models import LearnerGameProfile, XpRefusal, XpTransaction
from gamification.selectors.levels import level_for, level_table
from gamification.selectors.xp import ActionCatalogue, xp_action_catalogue
from gamification.services.levels import learner_levels_rederive
from gamification.services.xp_ledger import (
    claims_apply,
    ledger_insert,
    profiles_lock,
    profiles_write,
)
from gamification.services.xp_limits import KEY_MAX, Claim

__all__ = [
    "Claim",
    "XpAwardResult",
    "xp_award",
    "xp_award_claims",
    "xp_claims_pooled",
    "xp_grant",
    "xp_revoke",
    "xp_totals_rebuild",
]

logger = logging.getLogger(__name__)

MAX_AMOUNT = 100_000  # the most XP one award, grant or revocation may move
REFERENCE_MAX = XpTransaction._meta.get_field("reference").max_length
REASON_MAX = XpTransaction._meta.get_field("reason").max_length

Reason = XpRefusal.Reason
Kind = XpTransaction.Kind


@dataclass(frozen=True, slots=True)
class XpAwardResult:
    """What an award, grant or revocation did.

    `awarded` is the XP added (negative for a revocation; 0 when refused, with
    `refused_reason` one of `XpRefusal.Reason`); `total_xp` and `level` are the learner's
    right after it; `replayed` is True when the idempotency key had been used before, and the
    answer is then the first call's.
    """

    awarded: int
    refused_reason: str | None
    total_xp: int
    level: int
    levelled_up: bool
    replayed: bool = False


# --- awards -----------------------------------------------------------------------------------


def xp_award(
    *,
    user_id: int,
    action_code: str,
    amount: int | None = None,
    reference: str = "",
    idempotency_key: str,
    occurred_at: datetime | None = None,
    course_id: int | None = None,
) -> XpAwardResult:
    """Award a learner the XP of an action, unless anti-cheat refuses it; exactly once per key.

    `amount` overrides the action's default; `reference` names what was acted on (the object
    of the minimum interval and of once-per-object actions); `occurred_at` (default now) sets
    the learner-local day of the daily cap. A replayed key answers the first call's result
    (`replayed=True`) and changes nothing. Raises DomainValidationError naming `action`,
    `user`, `amount`, `reference`, `occurred_at` or `idempotency_key` (a key already used for
    another learner or action).
    """
    key = _key_checked(idempotency_key)
    reference = _reference_checked(reference)
    catalogue = xp_action_catalogue()
    action = catalogue.by_code.get(action_code) if isinstance(action_code, str) else None
    if action is None:
        raise DomainValidationError(
            {"action": [invalid_choice_message(action_code, sorted(catalogue.by_code))]}
        )
    amount = action.amount if amount is None else _amount_checked(amount)
    if occurred_at is None:
        occurred_at = timezone.now()
    elif timezone.is_naive(occurred_at):
        raise DomainValidationError({"occurred_at": ["Must include a UTC offset."]})
    claim = Claim(
        user_id=user_id,
        action=action,
        amount=amount,
        reference=reference,
        occurred_at=occurred_at,
        course_id=course_id,
        key=key,
    )
    with transaction.atomic():
        learners = profiles_lock([user_id])
        if user_id not in learners:
            raise DomainValidationError({"user": ["No such learner."]})
        replay = _replay(key, user_id=user_id, kind=Kind.AWARD, action_id=action.id)
        if replay is not None:
            return replay
        (outcome,) = claims_apply(
            [claim], learners, level_table(), catalogue, record_already_earned=True
        )
        if not outcome.recorded:
            # Another learner's call took the key between our look and our insert.
            replay = _replay(key, user_id=user_id, kind=Kind.AWARD, action_id=action.id)
            if replay is not None:
                return replay
            raise DomainValidationError({"idempotency_key": ["This key is in use."]})
    return XpAwardResult(
        awarded=outcome.awarded,
        refused_reason=outcome.refused_reason,
        total_xp=outcome.total_xp,
        level=outcome.level,
        levelled_up=outcome.levelled_up,
    )


def xp_award_claims(claims: Sequence[Claim], *, catalogue: ActionCatalogue) -> int:
    """Apply a batch of award claims (from ingested events, streak days, unlocks) with a fixed
    number of queries; return the XP paid in all.

    Claims of once-paid actions that were paid already are dropped without a refusal (a
    learner's tenth review is no attempt at cheating); other refusals are kept. Keys must
    be new (events' keys derive from their stored ids); a key the database already holds is
    skipped and its XP not counted. Inside `xp_claims_pooled` the claims are only queued (and
    0 is returned): they are paid together when the block ends.
    """
    if not claims:
        return 0
    pool = _pool.get()
    if pool is not None:
        pool.claims.extend(claims)
        pool.catalogue = catalogue
        return 0
    with transaction.atomic():  # the locks must last until the rows are written
        learners = profiles_lock(sorted({claim.user_id for claim in claims}))
        unique = {claim.key: claim for claim in reversed(claims)}  # the first claim of a key
        known = [claim for claim in unique.values() if claim.user_id in learners]
        outcomes = claims_apply(
            known, learners, level_table(), catalogue, record_already_earned=False
        )
    return sum(outcome.awarded for outcome in outcomes if outcome.recorded)


@dataclass
class _Pool:
    claims: list[Claim]
    catalogue: ActionCatalogue | None = None


_pool: ContextVar[_Pool | None] = ContextVar("xp_claims_pool", default=None)


@contextmanager
def xp_claims_pooled() -> Iterator[None]:
    """Within the block, `xp_award_claims` queues its claims; when the block ends they are all
    paid at once (one lock, one read, one insert and one update for the lot).

    For a caller that sets off several writers of XP in a row (ingestion: the events' XP, then
    the streak days') none of which reads XP totals. An error in the block pays nothing.
    """
    if _pool.get() is not None:  # already pooled by an outer block
        yield
        return
    pool = _Pool(claims=[])
    token = _pool.set(pool)
    try:
        yield
    finally:
        _pool.reset(token)
    if pool.claims and pool.catalogue is not None:
        xp_award_claims(pool.claims, catalogue=pool.catalogue)


# --- staff grants and revocations -------------------------------------------------------------


def xp_grant(
    *, user_id: int, amount: int, reason: str, granted_by_id: int | None, idempotency_key: str
) -> XpAwardResult:
    """Give a learner `amount` XP by hand, with a written reason; exactly once per key.

    Raises DomainValidationError naming `user`, `amount`, `reason` or `idempotency_key`.
    """
    return _staff_change(
        kind=Kind.GRANT,
        user_id=user_id,
        amount=_amount_checked(amount),
        reason=reason,
        staff_id=granted_by_id,
        idempotency_key=idempotency_key,
    )


def xp_revoke(
    *, user_id: int, amount: int, reason: str, revoked_by_id: int | None, idempotency_key: str
) -> XpAwardResult:
    """Take `amount` XP from a learner by hand, with a written reason; exactly once per key.

    The ledger row is negative; a total never goes below zero (asking for more is refused).
    `awarded` of the result is negative. Raises DomainValidationError naming `user`,
    `amount`, `reason` or `idempotency_key`.
    """
    return _staff_change(
        kind=Kind.REVOKE,
        user_id=user_id,
        amount=-_amount_checked(amount),
        reason=reason,
        staff_id=revoked_by_id,
        idempotency_key=idempotency_key,
    )


@transaction.atomic
def _staff_change(
    *,
    kind: str,
    user_id: int,
    amount: int,
    reason: str,
    staff_id: int | None,
    idempotency_key: str,
) -> XpAwardResult:
    key = _key_checked(idempotency_key)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise DomainValidationError({"reason": ["Say why: a written reason is required."]})
    if len(reason) > REASON_MAX:
        raise DomainValidationError({"reason": [f"At most {REASON_MAX} characters."]})
    learners = profiles_lock([user_id])
    learner = learners.get(user_id)
    if learner is None:
        raise DomainValidationError({"user": ["No such learner."]})
    replay = _replay(key, user_id=user_id, kind=kind, action_id=None)
    if replay is not None:
        return replay
    if learner.total + amount < 0:
        raise DomainValidationError(
            {"amount": [f"Cannot revoke more than the learner's {learner.total:,} XP."]}
        )
    table = level_table()
    now = timezone.now()
    learner.total += amount
    learner.level = level_for(learner.total, table)
    levelled_up = learner.level > learner.start_level
    if levelled_up:
        learner.levelled_at = now
    row = (
        user_id,
        kind,
        None,
        amount,
        reason,
        "",
        None,
        key,
        None,
        now,
        local_date(now, learner.tz),
        learner.total,
        learner.level,
        levelled_up,
        staff_id,
        now,
    )
    inserted = ledger_insert([row], {})
    if not inserted:
        replay = _replay(key, user_id=user_id, kind=kind, action_id=None)
        if replay is not None:
            return replay
        raise DomainValidationError({"idempotency_key": ["This key is in use."]})
    profiles_write(learners, table)
    return XpAwardResult(
        awarded=amount,
        refused_reason=None,
        total_xp=learner.total,
        level=learner.level,
        levelled_up=levelled_up,
    )


# --- totals -----------------------------------------------------------------------------------


@transaction.atomic
def xp_totals_rebuild(*, user_ids: Collection[int] | None = None) -> int:
    """Derive learners' totals and levels from the ledger alone; return how many totals changed.

    All learners with a ledger row or a profile, or only `user_ids`. Profiles missing for
    learners with ledger rows are created. The profiles are locked first (in learner order,
    like every writer), so that no award commits between the sums and the update.
    """
    ledger_users = XpTransaction.objects.order_by().values_list("user_id", flat=True).distinct()
    if user_ids is not None:
        ledger_users = ledger_users.filter(user_id__in=list(user_ids))
    LearnerGameProfile.objects.bulk_create(
        [LearnerGameProfile(user_id=user_id) for user_id in ledger_users],
        ignore_conflicts=True,
        batch_size=1000,
    )
    profiles = LearnerGameProfile.objects.all()
    if user_ids is not None:
        profiles = profiles.filter(user_id__in=list(user_ids))
    list(profiles.select_for_update().order_by("user_id").values_list("user_id", flat=True))
    ledger_sum = Coalesce(
        Subquery(
            XpTransaction.objects.filter(user_id=OuterRef("user_id"))
            .order_by()
            .values("user_id")
            .annotate(total=Sum("amount"))
            .values("total")
        ),
        Value(0),
    )
    changed = set(
        profiles.annotate(ledger_total=ledger_sum)
        .exclude(total_xp=F("ledger_total"))
        .values_list("user_id", flat=True)
    )
    if changed:
        LearnerGameProfile.objects.filter(user_id__in=list(changed)).update(
            total_xp=ledger_sum, updated_at=timezone.now()
        )
    learner_levels_rederive(user_ids=user_ids)
    return len(changed)


# --- the shared machinery ---------------------------------------------------------------------


def _key_checked(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX or "\x00" in key:
        raise DomainValidationError(
            {"idempotency_key": [f"A key of 1 to {KEY_MAX} characters is required."]}
        )
    return key


def _reference_checked(reference: Any) -> str:
    if reference is None:
        return ""
    if not isinstance(reference, str) or len(reference) > REFERENCE_MAX or "\x00" in reference:
        raise DomainValidationError({"reference": [f"At most {REFERENCE_MAX} characters of text."]})
    return reference


def _amount_checked(amount: Any) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise DomainValidationError(
            {"amount": [f"Must be a whole number of XP from 1 to {MAX_AMOUNT:,}."]}
        )
    return amount


def _replay(key: str, *, user_id: int, kind: str, action_id: int | None) -> XpAwardResult | None:
    """The first call's answer for `key` if it was used; raise if it was used for another."""
    row = (
        XpTransaction.objects.filter(idempotency_key=key)
        .values_list(
            "user_id", "kind", "action_id", "amount", "balance_after", "level_after", "levelled_up"
        )
        .first()
    )
    if row is not None:
        if row[:3] != (user_id, kind, action_id):
            raise DomainValidationError(
                {"idempotency_key": ["This key was already used for another award."]}
            )
        return XpAwardResult(
            awarded=row[3],
            refused_reason=None,
            total_xp=row[4],
            level=row[5],
            levelled_up=row[6],
            replayed=True,
        )
    refused = (
        XpRefusal.objects.filter(idempotency_key=key)
        .values_list("user_id", "action_id", "reason", "balance", "level")
        .first()
    )
    if refused is None:
        return None
    if kind != Kind.AWARD or refused[:2] != (user_id, action_id):
        raise DomainValidationError(
            {"idempotency_key": ["This key was already used for another award."]}
        )
    return XpAwardResult(
        awarded=0,
        refused_reason=refused[2],
        total_xp=refused[3],
        level=refused[4],
        levelled_up=False,
        replayed=True,
    )
