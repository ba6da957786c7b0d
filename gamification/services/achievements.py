"""Achievements: counting what they need, unlocking each exactly once, rarity, manual unlocks.

`achievements_evaluate` compares every learner's criterion values (see
`gamification.selectors.achievements` for where each comes from) with the thresholds of the
achievements they do not hold, and unlocks the reached ones with one
``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the unique (user, achievement) constraint makes
each unlock happen once, whichever of two concurrent evaluations gets there first, and only
the rows this call inserted pay their XP (`achievement_unlocked`, key
``achievement:<user>:<code>``, itself paid once) and record an `achievement_unlocked`
moment. XP paid may lift a level, which may unlock a level achievement: evaluation repeats
for those learners until nothing more unlocks.

Called by `events_apply` for each ingested batch (with the events, so that the counters are
kept and only criteria the batch could move are read), by the nightly sweep for everyone
(catching what moved without events: enrollments synced as completed, staff XP grants), and
after staff unlock one by hand.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.bulk import MergeRule, rows_insert, rows_merge
from core.errors import DomainValidationError
from core.lookups import any_of
from core.records import EventRecord
from gamification.models import (
    Achievement,
    AchievementCounter,
    AchievementUnlock,
    LearnerGameProfile,
    Moment,
)
from gamification.selectors.achievements import (
    CRITERION_EVENT_TYPES,
    PROFILE_CRITERIA,
    achievement_holder_counts,
    achievement_values,
    active_achievements,
    counter_name,
    rarity_for,
)
from gamification.selectors.xp import xp_action_catalogue
from gamification.services.moments import MomentDraft, moments_record
from gamification.services.rewards import learners_lock
from gamification.services.xp import Claim, xp_award_claims

Criterion = Achievement.Criterion
UNLOCK_ACTION = "achievement_unlocked"
SWEEP_CHUNK = 1000
REASON_MAX = AchievementUnlock._meta.get_field("reason").max_length

_COUNTERS = connection.ops.quote_name(AchievementCounter._meta.db_table)
_COUNTER_MERGE = MergeRule(
    model=AchievementCounter,
    columns=(
        ("user_id", "bigint"),
        ("name", "text"),
        ("course_key", "bigint"),
        ("count", "bigint"),
    ),
    conflict=("user_id", "name", "course_key"),
    unchanged="x.count = 0",
    update=f"SET count = {_COUNTERS}.count + EXCLUDED.count",
)
_UNLOCK_COLUMNS = (
    ("user_id", "bigint"),
    ("achievement_id", "bigint"),
    ("unlocked_at", "timestamptz"),
    ("granted_by_id", "bigint"),
    ("reason", "text"),
)


@dataclass(frozen=True, slots=True)
class UnlockRecord:
    """One achievement unlocked by this call."""

    user_id: int
    achievement_id: int
    achievement_code: str
    unlocked_at: datetime.datetime


# --- counters from events -----------------------------------------------------------------


def is_perfect_quiz(event_type: str, properties: Mapping[str, Any]) -> bool:
    """Whether an event is a quiz submitted with full marks: what the perfect-quiz counter
    counts, and the `quiz_perfect` condition of XP actions (services.events)."""
    score, max_score = properties.get("score"), properties.get("max_score")
    return (
        event_type == "quiz_submitted"
        and isinstance(score, int | float)
        and not isinstance(score, bool)
        and isinstance(max_score, int | float)
        and max_score > 0
        and score >= max_score
    )


def achievement_counters_record(
    *, events: Sequence[EventRecord], achievements: Sequence[Achievement] | None = None
) -> int:
    """Add the batch's events to the counters active achievements read; return rows touched.

    One upsert whatever the batch; nothing when no active achievement counts events.
    """
    achievements = active_achievements() if achievements is None else achievements
    wanted: dict[str, set[int]] = defaultdict(set)  # counter name -> course keys counted
    for achievement in achievements:
        name = counter_name(achievement)
        if name:
            wanted[name].add(achievement.course_id or AchievementCounter.ALL_COURSES)
    if not wanted:
        return 0
    counts: dict[tuple[int, str, int], int] = defaultdict(int)
    perfect = wanted.get(AchievementCounter.PERFECT_QUIZ)
    for event in events:
        names = []
        if event.type in wanted:
            names.append((event.type, wanted[event.type]))
        if perfect is not None and is_perfect_quiz(event.type, event.properties):
            names.append((AchievementCounter.PERFECT_QUIZ, perfect))
        for name, course_keys in names:
            if AchievementCounter.ALL_COURSES in course_keys:
                counts[event.user_id, name, AchievementCounter.ALL_COURSES] += 1
            if event.course_id is not None and event.course_id in course_keys:
                counts[event.user_id, name, event.course_id] += 1
    rows = [(user_id, name, course_key, n) for (user_id, name, course_key), n in counts.items()]
    rows_merge(_COUNTER_MERGE, rows)
    return len(rows)


# --- evaluation -----------------------------------------------------------------------------


def achievements_evaluate(
    *, user_ids: Iterable[int], events: Sequence[EventRecord] | None = None
) -> list[UnlockRecord]:
    """Unlock, for these learners, every active achievement whose threshold they reached.

    With `events` (a batch just ingested, inside its transaction) the counters are updated
    from them first, and only criteria those events could have moved are read (profile
    criteria always). Returns the unlocks this call made. A fixed number of queries per
    round (one round, plus one per level-up chain), whatever the number of learners.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return []
    achievements = active_achievements()
    if not achievements:
        return []
    with transaction.atomic():
        # The learners' lock first, as every gamification writer takes it, then the counters.
        learners_lock(ids)
        if events:
            achievement_counters_record(events=events, achievements=achievements)
        return _evaluate(
            ids, achievements, _criteria_by_user(ids, achievements, events), _stamps(events)
        )


def _stamps(events: Sequence[EventRecord] | None) -> dict[int, datetime.datetime]:
    """When a batch's unlocks happened: per learner, their latest event of the batch (the one
    that crossed a threshold is at or before it), never later than now. An import of last
    month's history then dates its unlocks last month, not today."""
    if not events:
        return {}
    now = timezone.now()
    latest: dict[int, datetime.datetime] = {}
    for event in events:
        at = event.occurred_at
        seen = latest.get(event.user_id)
        if seen is None or at > seen:
            latest[event.user_id] = at
    return {user_id: min(at, now) for user_id, at in latest.items()}


def _criteria_by_user(
    ids: Sequence[int], achievements: Sequence[Achievement], events: Sequence[EventRecord] | None
) -> dict[int, set[str]] | None:
    """Which criteria to read per learner (None: all, for all)."""
    if not events:
        return None
    types_of: dict[int, set[str]] = defaultdict(set)
    for event in events:
        types_of[event.user_id].add(event.type)
    event_count_types = {a.event_type for a in achievements if a.criterion == Criterion.EVENT_COUNT}
    wanted: dict[int, set[str]] = {}
    for user_id in ids:
        types = types_of.get(user_id, set())
        criteria = set(PROFILE_CRITERIA)
        for criterion, moved_by in CRITERION_EVENT_TYPES.items():
            if types & moved_by:
                criteria.add(criterion)
        if types & event_count_types:
            criteria.add(Criterion.EVENT_COUNT)
        wanted[user_id] = criteria
    return wanted


def _evaluate(
    ids: Sequence[int],
    achievements: Sequence[Achievement],
    criteria: Mapping[int, set[str]] | None,
    stamps: Mapping[int, datetime.datetime] | None = None,
) -> list[UnlockRecord]:
    """Unlock what the learners reached, round after round (an unlock's XP may lift a level
    that unlocks more); each unlock is dated by `stamps` (per learner), else now."""
    unlocked: list[UnlockRecord] = []
    stamps = stamps or {}
    held: dict[int, set[int]] = defaultdict(set)
    for user_id, achievement_id in AchievementUnlock.objects.filter(
        any_of("user_id", ids)
    ).values_list("user_id", "achievement_id"):
        held[user_id].add(achievement_id)
    pending = list(ids)
    while pending:
        due: dict[int, list[int]] = defaultdict(list)  # achievement -> learners to look at
        for user_id in pending:
            mine = held.get(user_id, ())
            wanted = None if criteria is None else criteria[user_id]
            for achievement in achievements:
                if achievement.pk not in mine and (
                    wanted is None or achievement.criterion in wanted
                ):
                    due[achievement.pk].append(user_id)
        if not due:
            break
        needed = [a for a in achievements if a.pk in due]
        # Each source is read only for the learners some achievement of it needs.
        values: dict[int, dict[int, int]] = defaultdict(dict)
        sources: dict[str, list[Achievement]] = defaultdict(list)
        for achievement in needed:
            profile = achievement.criterion in PROFILE_CRITERIA
            sources["profile" if profile else achievement.criterion].append(achievement)
        for group in sources.values():
            users = {user_id for a in group for user_id in due[a.pk]}
            for user_id, found in achievement_values(user_ids=users, achievements=group).items():
                values[user_id].update(found)
        now = timezone.now()
        rows = [
            (user_id, achievement.pk, stamps.get(user_id, now), None, "")
            for achievement in needed
            for user_id in due[achievement.pk]
            if values[user_id].get(achievement.pk, 0) >= achievement.threshold
        ]
        new = _unlocks_insert(rows, {a.pk: a for a in achievements}, now)
        for record in new:
            held[record.user_id].add(record.achievement_id)
        unlocked.extend(new)
        # XP just paid may have lifted levels: look again at those learners' profile criteria.
        pending = sorted({record.user_id for record in new})
        criteria = {user_id: set(PROFILE_CRITERIA) for user_id in pending}
    return unlocked


def _unlocks_insert(
    rows: Sequence[tuple[Any, ...]],
    by_id: Mapping[int, Achievement],
    now: datetime.datetime,
    *,
    reason: str = "",
) -> list[UnlockRecord]:
    """Insert unlocks (skipping those held); pay and tell the new ones; return them."""
    if not rows:
        return []
    inserted = rows_insert(
        AchievementUnlock, _UNLOCK_COLUMNS, rows, returning=("user_id", "achievement_id")
    )
    if not inserted:
        return []
    catalogue = xp_action_catalogue()
    action = catalogue.by_code.get(UNLOCK_ACTION)
    stamped = {(row[0], row[1]): row[2] for row in rows}
    claims = []
    moments = []
    records = []
    for user_id, achievement_id in inserted:
        achievement = by_id[achievement_id]
        at = stamped.get((user_id, achievement_id), now)
        records.append(UnlockRecord(user_id, achievement.pk, achievement.code, at))
        if action is not None and achievement.xp_reward:
            claims.append(
                Claim(
                    user_id=user_id,
                    action=action,
                    amount=achievement.xp_reward,
                    reference=f"achievement:{achievement.code}",
                    occurred_at=at,
                    course_id=achievement.course_id,
                    key=f"achievement:{user_id}:{achievement.code}",
                    reason=f"Achievement: {achievement.name}"[:255],
                )
            )
        moments.append(
            MomentDraft(
                user_id=user_id,
                kind=Moment.Kind.ACHIEVEMENT_UNLOCKED,
                title=f"Achievement unlocked: {achievement.name}",
                body=achievement.description,
                data={
                    "code": achievement.code,
                    "name": achievement.name,
                    "tier": achievement.tier,
                    "icon": achievement.icon,
                    "rarity": achievement.rarity,
                    "xp": achievement.xp_reward,
                    "manual": bool(reason),
                },
                dedupe_key=f"achievement_unlocked:{user_id}:{achievement.code}",
                occurred_at=at,
            )
        )
    if claims:
        xp_award_claims(claims, catalogue=catalogue)
    moments_record(moments)
    return records


def achievements_evaluate_all(*, chunk: int = SWEEP_CHUNK) -> int:
    """Evaluate every learner with a profile, chunk by chunk (each its own transaction).

    The nightly sweep: unlocks what moved without an event. Returns the unlocks made.
    """
    made = 0
    after = 0
    while True:
        ids = list(
            LearnerGameProfile.objects.filter(user_id__gt=after)
            .order_by("user_id")
            .values_list("user_id", flat=True)[:chunk]
        )
        if not ids:
            return made
        after = ids[-1]
        made += len(achievements_evaluate(user_ids=ids))


# --- staff ------------------------------------------------------------------------------------


def achievement_unlock(
    *, user_id: int, achievement_code: str, granted_by_id: int | None, reason: str
) -> UnlockRecord | None:
    """Unlock an achievement for a learner by hand, with a written reason; once ever.

    Pays its XP and records its moment like an earned unlock. Returns the unlock, or None when
    the learner held it already. Raises DomainValidationError naming `achievement`, `user`
    or `reason`.
    """
    new = achievements_unlock(
        user_ids=[user_id],
        achievement_code=achievement_code,
        granted_by_id=granted_by_id,
        reason=reason,
    )
    return new[0] if new else None


def achievements_unlock(
    *, user_ids: Iterable[int], achievement_code: str, granted_by_id: int | None, reason: str
) -> list[UnlockRecord]:
    """Unlock an achievement by hand for learners, with a written reason; once ever each.

    Pays its XP and records its moment like an earned unlock, for each learner who did not
    hold it; returns those unlocks, in learner order. One transaction and a fixed number of
    queries, whatever the number of learners. Raises DomainValidationError naming
    `achievement`, `user` (a learner who does not exist: nobody is unlocked) or `reason`.
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise DomainValidationError({"reason": "Say why: a written reason is required."})
    if len(reason) > REASON_MAX:
        raise DomainValidationError({"reason": f"At most {REASON_MAX} characters."})
    achievement = Achievement.objects.filter(code=achievement_code).first()
    if achievement is None:
        raise DomainValidationError(
            {"achievement": f"No achievement has the code '{achievement_code}'."}
        )
    ids = sorted(set(user_ids))
    if not ids:
        return []
    if User.objects.filter(any_of("pk", ids)).count() != len(ids):
        raise DomainValidationError({"user": "No such learner."})
    with transaction.atomic():
        learners_lock(ids)
        now = timezone.now()
        new = _unlocks_insert(
            [(user_id, achievement.pk, now, granted_by_id, reason) for user_id in ids],
            {achievement.pk: achievement},
            now,
            reason=reason,
        )
        if new:
            # The XP may lift levels that unlock more.
            lifted = sorted({record.user_id for record in new})
            _evaluate(
                lifted,
                active_achievements(),
                {user_id: set(PROFILE_CRITERIA) for user_id in lifted},
            )
    return sorted(new, key=lambda record: record.user_id)


# --- rarity -----------------------------------------------------------------------------------


@transaction.atomic
def achievements_rarity_recompute() -> int:
    """Recompute every achievement's share of learners holding it and its rarity band.

    Two counting queries and one update per achievement whose figures changed; returns how
    many changed.
    """
    holders, learners = achievement_holder_counts()
    changed = 0
    for achievement in Achievement.objects.select_for_update().order_by("pk"):
        share = holders.get(achievement.pk, 0) / learners if learners else 0.0
        rarity = rarity_for(share)
        if abs(achievement.holders_share - share) > 1e-9 or achievement.rarity != rarity:
            achievement.holders_share = share
            achievement.rarity = rarity
            achievement.save(update_fields=["holders_share", "rarity"])
            changed += 1
    return changed
