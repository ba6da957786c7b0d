"""Paying XP claims: the learners' profiles locked, the claims weighed in time order, the
ledger rows and refusals written, the totals and levels stored, the new rows handed over.

Every writer of XP locks the learners' profile rows first, in learner order (creating missing
ones), and reads everything after: so caps and bursts count committed rows only, and
concurrent writers queue instead of racing or deadlocking. A batch costs a fixed number of
statements whatever its size: the lock, the levels, the history, one insert of ledger rows (a
COPY for an import's batch), one of refusals, one update of the profiles, one of moments.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.bulk import fetch_rows, rows_insert
from core.localtime import local_date
from core.lookups import array_literal
from core.records import XpEntryRecord
from gamification.models import LearnerGameProfile, XpRefusal, XpTransaction
from gamification.selectors.levels import LevelInfo, level_for
from gamification.selectors.xp import ActionCatalogue
from gamification.services.moments import MomentDraft, moments_record
from gamification.services.xp_limits import Claim, Reason, history_load, once_key

logger = logging.getLogger(__name__)

Kind = XpTransaction.Kind

LEDGER_COLUMNS = (
    ("user_id", "bigint"),
    ("kind", "text"),
    ("action_id", "bigint"),
    ("amount", "integer"),
    ("reason", "text"),
    ("reference", "text"),
    ("course_id", "bigint"),
    ("idempotency_key", "text"),
    ("once_key", "text"),
    ("occurred_at", "timestamptz"),
    ("local_date", "date"),
    ("balance_after", "bigint"),
    ("level_after", "smallint"),
    ("levelled_up", "boolean"),
    ("created_by_id", "bigint"),
    ("created_at", "timestamptz"),
)
REFUSAL_COLUMNS = (
    ("user_id", "bigint"),
    ("action_id", "bigint"),
    ("reason", "text"),
    ("reference", "text"),
    ("idempotency_key", "text"),
    ("occurred_at", "timestamptz"),
    ("balance", "bigint"),
    ("level", "smallint"),
    ("created_at", "timestamptz"),
)


@dataclass(slots=True)
class Learner:
    """A locked profile's totals as the batch moves them."""

    total: int
    level: int
    tz: str
    start_total: int
    start_level: int
    levelled_at: datetime | None = None


class Outcome(NamedTuple):  # a tuple: thousands are made per batch
    awarded: int
    refused_reason: str | None
    total_xp: int
    level: int
    levelled_up: bool
    recorded: bool  # False when the database already held the key (a concurrent writer)


def profiles_lock(user_ids: Sequence[int]) -> dict[int, Learner]:
    """Lock the profiles of `user_ids` (in learner order), creating missing ones; answer their
    totals and timezones. Learners that do not exist are left out."""
    found = _profiles_locked(user_ids)
    missing = [user_id for user_id in user_ids if user_id not in found]
    if missing:
        # A concurrent writer creating the same profile makes this wait for its commit, then
        # skip the row; the lock below then sees it.
        _profiles_create(missing)
        found.update(_profiles_locked(missing))
    return found


def _profiles_create(user_ids: Sequence[int]) -> None:
    """Create the profiles of those of `user_ids` that are users, at their fields' defaults."""
    if connection.vendor != "postgresql":
        exists = User.objects.filter(pk__in=list(user_ids)).values_list("pk", flat=True)
        LearnerGameProfile.objects.bulk_create(
            [LearnerGameProfile(user_id=user_id) for user_id in exists], ignore_conflicts=True
        )
        return
    # One INSERT ... SELECT from the users (thousands of new learners in an import's first
    # batches): building thousands of model instances and parameters costs more than it does.
    qn = connection.ops.quote_name
    now = timezone.now()
    fields = [
        field for field in LearnerGameProfile._meta.concrete_fields if field.attname != "user_id"
    ]
    values = [
        field.get_db_prep_save(
            now if getattr(field, "auto_now", False) else field.get_default(), connection
        )
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(LearnerGameProfile._meta.db_table)} "
            f"(user_id, {', '.join(qn(field.column) for field in fields)}) "
            f"SELECT u.id, {', '.join(['%s'] * len(fields))} FROM {qn(User._meta.db_table)} u "
            "WHERE u.id = ANY(%s::bigint[]) ORDER BY u.id ON CONFLICT DO NOTHING",
            [*values, array_literal(sorted(user_ids))],
        )


def _profiles_locked(user_ids: Sequence[int]) -> dict[int, Learner]:
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        profiles = qn(LearnerGameProfile._meta.db_table)
        users = qn(User._meta.db_table)
        rows: Iterable[tuple[Any, ...]] = fetch_rows(
            f"SELECT p.user_id, p.total_xp, p.level, u.timezone FROM {profiles} p "
            f"JOIN {users} u ON u.id = p.user_id WHERE p.user_id = ANY(%s::bigint[]) "
            "ORDER BY p.user_id FOR UPDATE OF p",
            [array_literal(user_ids)],
        )
    else:  # SQLite takes its write lock at BEGIN: nothing to lock row by row
        rows = (
            LearnerGameProfile.objects.filter(user_id__in=list(user_ids))
            .order_by("user_id")
            .values_list("user_id", "total_xp", "level", "user__timezone")
        )
    return {user_id: Learner(total, level, tz, total, level) for user_id, total, level, tz in rows}


def claims_apply(
    claims: Sequence[Claim],
    learners: dict[int, Learner],
    table: tuple[LevelInfo, ...],
    catalogue: ActionCatalogue,
    *,
    record_already_earned: bool,
) -> list[Outcome]:
    """Decide, pay and record `claims` for locked `learners`; answer one outcome per claim.

    Claims are weighed per learner in time order, each against the ledger and the claims
    paid before it. Writes the ledger rows and refusals (one insert each), the profiles (one
    update) and the level-up moments, and hands the new ledger rows over after the commit.
    """
    for claim in claims:
        claim.local_date = local_date(claim.occurred_at, learners[claim.user_id].tz)
        claim.once_key = once_key(claim.user_id, claim.action, claim.reference)
    history = history_load(claims, catalogue)
    sort_keys = [(claim.user_id, claim.occurred_at, claim.key) for claim in claims]
    order = sorted(range(len(claims)), key=sort_keys.__getitem__)
    thresholds = [info.threshold_xp for info in table]
    numbers = [info.number for info in table]
    now = timezone.now()
    outcomes: list[Outcome | None] = [None] * len(claims)
    ledger_rows: list[tuple[Any, ...]] = []
    refusal_rows: list[tuple[Any, ...]] = []
    paid: dict[str, tuple[int, Claim]] = {}  # key -> (claim index, claim)
    refused: dict[str, int] = {}
    for index in order:
        claim = claims[index]
        learner = learners[claim.user_id]
        reason = history.refusal(claim)
        if reason is None:
            before = learner.level
            learner.total += claim.amount
            level = learner.level = numbers[max(bisect_right(thresholds, learner.total) - 1, 0)]
            up = level > before
            if up:
                learner.levelled_at = claim.occurred_at
            action = claim.action
            history.add(
                claim.user_id,
                action,
                claim.reference,
                claim.occurred_at,
                claim.local_date,
                claim.once_key,
            )
            ledger_rows.append(
                (
                    claim.user_id,
                    Kind.AWARD,
                    action.id,
                    claim.amount,
                    claim.reason,
                    claim.reference,
                    claim.course_id,
                    claim.key,
                    claim.once_key,
                    claim.occurred_at,
                    claim.local_date,
                    learner.total,
                    level,
                    up,
                    None,
                    now,
                )
            )
            paid[claim.key] = (index, claim)
            outcomes[index] = Outcome(claim.amount, None, learner.total, level, up, True)
            continue
        outcomes[index] = Outcome(0, reason, learner.total, learner.level, False, True)
        if reason == Reason.ALREADY_EARNED and not record_already_earned:
            continue
        refusal_rows.append(
            (
                claim.user_id,
                claim.action.id,
                reason,
                claim.reference,
                claim.key,
                claim.occurred_at,
                learner.total,
                learner.level,
                now,
            )
        )
        refused[claim.key] = index
    inserted = ledger_insert(ledger_rows, {key: claim for key, (_, claim) in paid.items()})
    if len(inserted) < len(ledger_rows):
        _totals_correct(learners, table, paid, inserted, outcomes)
    if refusal_rows:
        stored = {
            key
            for (key,) in rows_insert(
                XpRefusal, REFUSAL_COLUMNS, refusal_rows, returning=("idempotency_key",)
            )
        }
        for key, index in refused.items():
            if key not in stored:
                outcomes[index] = _replace_recorded(outcomes[index])
    if inserted:
        profiles_write(learners, table)
    return [outcome for outcome in outcomes if outcome is not None]


def _replace_recorded(outcome: Outcome | None) -> Outcome:
    assert outcome is not None
    return outcome._replace(levelled_up=False, recorded=False)


def _totals_correct(
    learners: dict[int, Learner],
    table: tuple[LevelInfo, ...],
    paid: dict[str, tuple[int, Claim]],
    inserted: set[str],
    outcomes: list[Outcome | None],
) -> None:
    """Count only what the database stored: a key it held already pays nothing here."""
    skipped = {key: entry for key, entry in paid.items() if key not in inserted}
    logger.warning("XP: %d award keys were stored already; not paid again", len(skipped))
    for index, claim in skipped.values():
        learner = learners[claim.user_id]
        learner.total -= claim.amount
        outcomes[index] = Outcome(0, None, learner.total, learner.level, False, False)
    for learner in learners.values():
        learner.level = level_for(learner.total, table)


def ledger_insert(rows: list[tuple[Any, ...]], claims: dict[str, Claim]) -> set[str]:
    """Insert ledger rows (skipping keys stored already); hand the new ones over on commit;
    return the keys inserted."""
    if not rows:
        return set()
    # Under the learners' locks nothing else can have paid these keys: an import's batch is
    # COPied straight in, and only a clash after all goes the slower way that skips it.
    returned = rows_insert(
        XpTransaction,
        LEDGER_COLUMNS,
        rows,
        returning=("id", "idempotency_key"),
        expect_new=True,
    )
    ids = dict((key, pk) for pk, key in returned)
    entries = [
        XpEntryRecord(
            id=ids[row[7]],
            user_id=row[0],
            kind=row[1],
            action_code=claims[row[7]].action.code if row[7] in claims else None,
            amount=row[3],
            course_id=row[6],
            occurred_at=row[9],
            local_date=row[10],
        )
        for row in rows
        if row[7] in ids
    ]
    _entries_hand_over(entries)
    return set(ids)


def _entries_hand_over(entries: list[XpEntryRecord]) -> None:
    """After the commit, give the new ledger rows to the leaderboards and leagues."""
    if not entries:
        return
    # Imported here: the leaderboards' leagues pay promotion XP through this module.
    from gamification.services.leaderboards import leaderboards_record

    # After the commit (never for a rolled-back award); a failure there is logged, and the
    # boards are rebuilt from the ledger (`rebuild_leaderboards`), which stays the truth.
    transaction.on_commit(lambda: leaderboards_record(entries=entries), robust=True)


def profiles_write(learners: dict[int, Learner], table: tuple[LevelInfo, ...]) -> None:
    """Store the changed totals and levels (one UPDATE) and the level-ups' moments."""
    changed = {
        user_id: learner
        for user_id, learner in learners.items()
        if learner.total != learner.start_total or learner.level != learner.start_level
    }
    if not changed:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        table_name = connection.ops.quote_name(LearnerGameProfile._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table_name} AS p SET total_xp = v.total, level = v.level, "
                "updated_at = %s FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[]) "
                "AS v(user_id, total, level) WHERE p.user_id = v.user_id",
                [
                    now,
                    array_literal(changed),
                    array_literal([learner.total for learner in changed.values()]),
                    array_literal([learner.level for learner in changed.values()]),
                ],
            )
    else:
        LearnerGameProfile.objects.bulk_update(
            [
                LearnerGameProfile(
                    user_id=user_id, total_xp=learner.total, level=learner.level, updated_at=now
                )
                for user_id, learner in changed.items()
            ],
            ["total_xp", "level", "updated_at"],
            batch_size=500,
        )
    names = {info.number: info.name for info in table}
    moments = [
        MomentDraft(
            user_id=user_id,
            kind="level_up",
            title=f"Level {learner.level}: {names.get(learner.level, '')}".rstrip(": "),
            body=f"You reached level {learner.level}, {names.get(learner.level, '')}, "
            f"with {learner.total:,} XP.",
            data={
                "level": learner.level,
                "name": names.get(learner.level, ""),
                "previous_level": learner.start_level,
                "total_xp": learner.total,
            },
            dedupe_key=f"level_up:{user_id}:{learner.level}",
            occurred_at=learner.levelled_at,
        )
        for user_id, learner in changed.items()
        if learner.level > learner.start_level
    ]
    if moments:
        moments_record(moments)
