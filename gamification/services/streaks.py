"""Streaks: recording learners' active days, spending and refunding freezes, milestones.

The rules (what the streak selectors read back, see `gamification.selectors.streaks`):

Days
    A day is the learner's local calendar day, in the timezone their account has when the
    event is recorded (`User.timezone`; `core.localtime`). Days already recorded keep their
    dates when a learner moves: one who flies from Tokyo to Los Angeles lives part of a day
    twice, and it counts once; one who flies east may skip a calendar day, which a freeze
    then covers like any other missed day. Every event counts as activity except those that
    are not something the learner did (`NON_ACTIVITY_TYPES`, as in engagement's catalogue).

Freezes (the `streak_freeze` reward; at most 2 held, see `services.rewards`)
    Whenever the days missed since a learner's latest streak day are settled, they are all
    covered if the learner holds a freeze for each (the days become FROZEN, one `RewardUse`
    per day, key ``streak_freeze:<user>:<date>``), or none is and the streak ends: a freeze
    is never spent on a gap it cannot bridge. The hourly `streaks_settle` settles each missed
    day as it ends in the learner's timezone (so the learner sees the freeze used the next
    morning, as on Duolingo; the next missed day needs a freeze of its own); activity arriving
    after days no beat has settled yet (the beat was late or down) settles them first. Only
    the gap after the latest streak day is ever settled: a late event for an old day never
    spends a freeze.

Late events
    An event for a day before the learner's latest streak day is applied where it belongs:
    the day becomes active (a day a freeze covered is *repaired*: its use is refunded,
    `RewardUse.refunded_at`, and the freeze returns unless the learner holds the most
    already), runs that it joins are merged, and their lengths and milestones recomputed.

Milestones (`StreakMilestone`: 7, 14, 30, 60, 100, 365 days)
    Reached when a streak counts that many active days; recorded once per streak
    (`StreakMilestoneReached`, keyed by the streak's first day; a milestone reached in a
    streak that a late event merged into a longer one counts for the merged streak too). Each
    pays its XP (`streak_milestone` action, key ``milestone:<user>:<days>:<first day>``), its
    freezes (capped) and records a `streak_milestone` moment.

Daily streak XP
    The `daily_streak` action is paid once per active local day (key
    ``daily_streak:<user>:<date>``), for the day's first event.

Writes for a learner take their profile lock first (`services.rewards.learners_lock`), so
concurrent batches for one learner queue and each sees the other's days.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.bulk import MergeRule, rows_merge
from core.localtime import local_date, zone
from core.lookups import any_of
from core.records import EventRecord
from gamification.defaults_rewards import STREAK_FREEZE
from gamification.models import (
    LearnerGameProfile,
    Moment,
    Reward,
    RewardGrant,
    StreakDay,
    StreakMilestone,
    StreakMilestoneReached,
)
from gamification.selectors.rewards import freezes_held
from gamification.selectors.streaks import (
    ACTIVE,
    DAY,
    FROZEN,
    StreakTail,
    missed_days,
    streak_at_risk_states,
    streak_tails,
)
from gamification.selectors.xp import xp_action_catalogue
from gamification.services.moments import MomentDraft, moments_record
from gamification.services.rewards import (
    UseDraft,
    learners_lock,
    reward_uses_insert,
    reward_uses_refund,
)
from gamification.services.xp import Claim, xp_award_claims

# Recorded, but not something the learner did (engagement.catalogue.NON_ACTIVITY_TYPES, which
# gamification cannot import: engagement sits above it).
NON_ACTIVITY_TYPES: frozenset[str] = frozenset({"live_session_missed", "enrollment_withdrawn"})

DAILY_STREAK_ACTION = "daily_streak"
MILESTONE_ACTION = "streak_milestone"
# "Streak at risk" moments go out from this local hour on: late enough that the day's usual
# study time has passed, early enough to still save the streak.
AT_RISK_LOCAL_HOUR = 18
AT_RISK_MIN_DAYS = 2  # a one-day streak is hardly worth a warning
SETTLE_CHUNK = 2000

_TABLE = connection.ops.quote_name(StreakDay._meta.db_table)
_DAY_MERGE = MergeRule(
    model=StreakDay,
    columns=(
        ("user_id", "bigint"),
        ("date", "date"),
        ("status", "text"),
        ("activity_count", "integer"),
        ("run_started_on", "date"),
        ("run_length", "integer"),
        ("updated_at", "timestamptz"),
    ),
    conflict=("user_id", "date"),
    # activity_count of an incoming row is what to add; the rest replace the stored values.
    unchanged="x.activity_count = 0 AND t.status = x.status AND t.run_length = x.run_length "
    "AND t.run_started_on IS NOT DISTINCT FROM x.run_started_on",
    update="SET status = EXCLUDED.status, "
    f"activity_count = {_TABLE}.activity_count + EXCLUDED.activity_count, "
    "run_started_on = EXCLUDED.run_started_on, run_length = EXCLUDED.run_length, "
    "updated_at = EXCLUDED.updated_at",
)


@dataclass(frozen=True, slots=True)
class StreakUpdate:
    """What recording activity or settling did, in numbers."""

    learners: int = 0
    active_days: int = 0  # days that became active
    freezes_spent: int = 0
    freezes_refunded: int = 0
    milestones: int = 0
    lapsed: int = 0  # streaks found ended (settling only)


# --- the plan for one learner (pure) ----------------------------------------------------------

Row = tuple[datetime.date, str, int, datetime.date | None, int]
"""A streak day to write: (date, status, activity to add, first day of its streak, length)."""
Hit = tuple[StreakMilestone, datetime.date, datetime.date, int]
"""A milestone reached: (milestone, first day of the streak, day reached, freezes granted)."""


@dataclass(slots=True)
class _Outcome:
    """What recording or settling does to one learner."""

    user_id: int
    held: int  # freezes held once it is done
    cap: int
    rows: list[Row] = field(default_factory=list)
    current: int = 0  # length of the streak the latest day ends
    longest: int = 0  # the longest length among the rows
    activated: list[datetime.date] = field(default_factory=list)  # days that became active
    frozen: list[datetime.date] = field(default_factory=list)
    refunded: list[datetime.date] = field(default_factory=list)
    milestones: list[Hit] = field(default_factory=list)

    def reach(self, milestone: StreakMilestone, first: datetime.date, day: datetime.date) -> None:
        granted = max(0, min(milestone.freezes_reward, self.cap - self.held))
        self.held += granted
        self.milestones.append((milestone, first, day, granted))

    def repair(self, day: datetime.date) -> None:
        """A frozen day became active: its freeze comes back, unless the learner holds the
        most already (then it stays spent)."""
        self.activated.append(day)
        if self.held < self.cap:
            self.held += 1
            self.refunded.append(day)


def _forward(
    outcome: _Outcome,
    tail: StreakTail | None,
    counts: Mapping[datetime.date, int],
    milestones: Mapping[int, StreakMilestone],
) -> None:
    """Apply activity on days from the learner's latest streak day on (the usual case).

    The gap before each new day is settled by freezes: all of it if the learner holds
    enough, none of it otherwise (the streak then starts again).
    """
    last = started = None
    length = 0
    if tail is not None:
        last, started, length = tail.date, tail.run_started_on or tail.date, tail.run_length
    rows = outcome.rows
    for day in sorted(counts):
        if day == last:  # more activity on the latest day; a frozen one is repaired
            assert tail is not None
            status = tail.status
            if status == FROZEN:
                status = ACTIVE
                length += 1
                outcome.repair(day)
                if length in milestones:
                    outcome.reach(milestones[length], started, day)
            rows.append((day, status, counts[day], started, length))
            continue
        if last is not None and (gap := (day - last).days - 1) <= outcome.held:
            for offset in range(1, gap + 1):
                frozen = last + offset * DAY
                rows.append((frozen, FROZEN, 0, started, length))
                outcome.frozen.append(frozen)
            outcome.held -= gap
            length += 1
        else:
            started, length = day, 1
        last = day
        rows.append((day, ACTIVE, counts[day], started, length))
        outcome.activated.append(day)
        if length in milestones:
            outcome.reach(milestones[length], started, day)
    outcome.current = length
    outcome.longest = max((row[4] for row in rows), default=0)


@dataclass(slots=True)
class _Day:
    status: str
    run_started_on: datetime.date | None
    run_length: int
    added: int = 0  # activity to add to the stored count
    stored: tuple[str, datetime.date | None, int] | None = None  # as stored, None if new

    def changed(self) -> bool:
        return self.added > 0 or self.stored != (self.status, self.run_started_on, self.run_length)


def _stored_day(status: str, started: datetime.date | None, length: int) -> _Day:
    return _Day(status, started, length, stored=(status, started, length))


def _runs_recompute(
    outcome: _Outcome,
    days: dict[datetime.date, _Day],
    milestones: Mapping[int, StreakMilestone],
    reached: Sequence[tuple[int, datetime.date]],
) -> None:
    """Recompute every day's streak (first day, length) from the learner's whole history.

    Records the milestones that changed rows reach and that no streak within the same run
    reached before (`reached`: (milestone days, first day) already recorded): a streak that
    a late event merged into a longer one keeps the milestones it had.
    """
    previous: tuple[datetime.date, _Day] | None = None
    runs: list[list[datetime.date]] = []
    for day in sorted(days):
        row = days[day]
        if previous is not None and (day - previous[0]).days == 1:
            row.run_started_on = previous[1].run_started_on or previous[0]
            row.run_length = previous[1].run_length + (row.status == ACTIVE)
            runs[-1].append(day)
        else:
            row.run_started_on = day
            row.run_length = 1 if row.status == ACTIVE else 0
            runs.append([day])
        previous = (day, row)
    for run in runs:
        first, last = run[0], run[-1]
        for day in run:
            row = days[day]
            milestone = milestones.get(row.run_length)
            if milestone is None or row.status != ACTIVE or not row.changed():
                continue
            if any(m == milestone.days and first <= started <= last for m, started in reached):
                continue
            outcome.reach(milestone, first, day)


def _replay_history(
    outcome: _Outcome,
    days: dict[datetime.date, _Day],
    counts: Mapping[datetime.date, int],
    milestones: Mapping[int, StreakMilestone],
    reached: Sequence[tuple[int, datetime.date]],
) -> None:
    """Apply activity some of which lies before the learner's latest streak day (late events).

    Late days become active where they belong (a frozen one is repaired) and every streak is
    recomputed from the whole history; a late event never spends a freeze. Days after the
    latest streak day then extend the streak as `_forward` does.
    """
    boundary = max(days)
    for day in sorted(d for d in counts if d <= boundary):
        row = days.get(day)
        if row is None:
            days[day] = _Day(ACTIVE, None, 0, added=counts[day])
            outcome.activated.append(day)
        else:
            row.added += counts[day]
            if row.status == FROZEN:
                row.status = ACTIVE
                outcome.repair(day)
    _runs_recompute(outcome, days, milestones, reached)
    outcome.rows = [
        (day, row.status, row.added, row.run_started_on, row.run_length)
        for day, row in sorted(days.items())
        if row.changed()
    ]
    row = days[boundary]
    tail = StreakTail(outcome.user_id, boundary, row.status, row.run_started_on, row.run_length)
    longest = max(row.run_length for row in days.values())
    ahead = {day: n for day, n in counts.items() if day > boundary}
    if ahead:
        _forward(outcome, tail, ahead, milestones)
    else:
        outcome.current = tail.run_length
    outcome.longest = max(outcome.longest, longest)


# --- recording activity -----------------------------------------------------------------------


def streaks_record_events(
    *, events: Sequence[EventRecord], xp_claims: list[Claim] | None = None
) -> StreakUpdate:
    """Record the learners' active days of a batch of newly stored events, in bulk.

    Ingestion (through `events_apply`) calls it inside its transaction. Events of types that
    are not learner activity are ignored. A fixed number of queries per batch (the learners
    locked with their timezones, their latest streak days, their freezes, one upsert of
    days, one update of profiles, the XP), plus a few for learners whose batch reaches back
    before their latest streak day (late events) and for milestones reached.

    The XP the days earn (daily streak, milestones) is paid here, or, when the caller passes
    a list as `xp_claims`, added to it for the caller to pay with its own claims in one
    `xp_award_claims` call (one lock and one profile update fewer per batch).
    """
    pairs = [
        (event.user_id, event.occurred_at)
        for event in events
        if event.type not in NON_ACTIVITY_TYPES
    ]
    return _events_apply(pairs, xp_claims) if pairs else StreakUpdate()


def streak_record_activity(*, user_id: int, occurred_at: datetime.datetime) -> StreakUpdate:
    """Record one qualifying activity of a learner at `occurred_at` (their local day)."""
    return _events_apply([(user_id, occurred_at)], None)


@transaction.atomic
def _events_apply(
    pairs: Sequence[tuple[int, datetime.datetime]], xp_claims: list[Claim] | None
) -> StreakUpdate:
    """Record activity given as (learner, when) pairs."""
    profiles = _profiles_locked(sorted({user_id for user_id, _ in pairs}))
    activity: dict[int, dict[datetime.date, int]] = defaultdict(dict)
    first_at: dict[tuple[int, datetime.date], datetime.datetime] = {}
    for user_id, occurred_at in pairs:
        profile = profiles.get(user_id)
        if profile is None:  # the learner is gone
            continue
        day = local_date(occurred_at, profile.tz)
        days = activity[user_id]
        days[day] = days.get(day, 0) + 1
        key = (user_id, day)
        if key not in first_at or occurred_at < first_at[key]:
            first_at[key] = occurred_at
    return _activity_apply(activity, first_at, profiles, xp_claims)


def _activity_apply(
    activity: Mapping[int, Mapping[datetime.date, int]],
    first_at: Mapping[tuple[int, datetime.date], datetime.datetime],
    profiles: Mapping[int, _Profile],
    xp_claims: list[Claim] | None,
) -> StreakUpdate:
    user_ids = sorted(activity)
    if not user_ids:
        return StreakUpdate()
    tails = streak_tails(user_ids=user_ids)
    reward = _freeze_reward()
    cap = (reward.max_held or 0) if reward is not None else 0
    held = freezes_held(user_ids=user_ids) if cap else {}
    milestones = {m.days: m for m in StreakMilestone.objects.all()}
    late = [
        user_id
        for user_id in user_ids
        if user_id in tails and min(activity[user_id]) < tails[user_id].date
    ]
    history = _days_load(late)
    reached = _reached_load(late)
    outcomes = []
    for user_id in user_ids:
        outcome = _Outcome(user_id=user_id, held=held.get(user_id, 0), cap=cap)
        if user_id in history:
            _replay_history(
                outcome, history[user_id], activity[user_id], milestones, reached[user_id]
            )
        else:
            _forward(outcome, tails.get(user_id), activity[user_id], milestones)
        outcomes.append(outcome)
    return _outcomes_write(outcomes, profiles, reward, first_at, xp_claims)


def _days_load(user_ids: Sequence[int]) -> dict[int, dict[datetime.date, _Day]]:
    """The whole streak history of a few learners (those with late events)."""
    found: dict[int, dict[datetime.date, _Day]] = {user_id: {} for user_id in user_ids}
    if not user_ids:
        return found
    rows = StreakDay.objects.filter(any_of("user_id", user_ids)).values_list(
        "user_id", "date", "status", "run_started_on", "run_length"
    )
    for user_id, day, status, started, length in rows:
        found[user_id][day] = _stored_day(status, started, length)
    return found


def _reached_load(user_ids: Sequence[int]) -> dict[int, list[tuple[int, datetime.date]]]:
    found: dict[int, list[tuple[int, datetime.date]]] = defaultdict(list)
    if user_ids:
        for user_id, days, started in StreakMilestoneReached.objects.filter(
            any_of("user_id", user_ids)
        ).values_list("user_id", "milestone__days", "streak_started_on"):
            found[user_id].append((days, started))
    return found


def _freeze_reward() -> Reward | None:
    reward = Reward.objects.filter(code=STREAK_FREEZE).first()
    return reward if reward is not None and reward.is_active else None


@dataclass(slots=True)
class _Profile:
    longest: int
    last_active: datetime.date | None
    tz: str


def _profiles_locked(user_ids: Sequence[int]) -> dict[int, _Profile]:
    """Lock the learners (as `learners_lock` does) and read their streak fields and timezone."""
    found = _profiles_read(user_ids)
    missing = [user_id for user_id in user_ids if user_id not in found]
    if missing:
        learners_lock(missing)
        found.update(_profiles_read(missing))
    return found


def _profiles_read(user_ids: Sequence[int]) -> dict[int, _Profile]:
    rows = (
        LearnerGameProfile.objects.select_for_update(of=("self",))
        .filter(any_of("user_id", user_ids))
        .order_by("user_id")
        .values_list("user_id", "longest_streak", "last_active_date", "user__timezone")
    )
    return {
        user_id: _Profile(longest, last_active, tz) for user_id, longest, last_active, tz in rows
    }


def _outcomes_write(
    outcomes: Sequence[_Outcome],
    profiles: Mapping[int, _Profile],
    reward: Reward | None,
    first_at: Mapping[tuple[int, datetime.date], datetime.datetime],
    xp_claims: list[Claim] | None = None,
) -> StreakUpdate:
    """Write what changed: days (one upsert), freeze uses and refunds, profiles, XP, moments."""
    now = timezone.now()
    day_rows = []
    profile_rows = []
    uses: list[UseDraft] = []
    refunds: list[str] = []
    moments: list[MomentDraft] = []
    claims: list[Claim] = []
    catalogue = xp_action_catalogue()
    daily = catalogue.by_code.get(DAILY_STREAK_ACTION)
    hits = []
    changed = 0
    for outcome in outcomes:
        if not outcome.rows:
            continue
        changed += 1
        user_id = outcome.user_id
        profile = profiles[user_id]
        last_active = profile.last_active
        for day, status, added, started, length in outcome.rows:
            day_rows.append((user_id, day, status, added, started, length, now))
            if status == ACTIVE and (last_active is None or day > last_active):
                last_active = day
        profile_rows.append(
            (user_id, outcome.current, max(profile.longest, outcome.longest), last_active)
        )
        for day in outcome.frozen:
            key = _freeze_key(user_id, day)
            uses.append(UseDraft(user_id, day.isoformat(), "Covered a missed day.", key))
            moments.append(_freeze_moment(user_id, day, outcome.held))
        refunds.extend(_freeze_key(user_id, day) for day in outcome.refunded)
        if daily is not None:
            for day in outcome.activated:
                iso = day.isoformat()
                claims.append(
                    Claim(
                        user_id=user_id,
                        action=daily,
                        amount=daily.amount,
                        reference=iso,
                        occurred_at=first_at.get((user_id, day)) or _noon(day, profile.tz),
                        course_id=None,
                        key=f"daily_streak:{user_id}:{iso}",
                    )
                )
        hits.extend((user_id, *hit) for hit in outcome.milestones)
    if day_rows:
        rows_merge(_DAY_MERGE, day_rows)
    if uses and reward is not None:
        reward_uses_insert(reward=reward, uses=uses, at=now)
    refunded = reward_uses_refund(keys=refunds, at=now) if refunds else 0
    if profile_rows:
        _profiles_write(profile_rows, now)
    if hits:
        _milestones_pay(hits, reward, catalogue, first_at, profiles, now, claims, moments)
    if xp_claims is not None:
        xp_claims.extend(claims)
    elif claims:
        xp_award_claims(claims, catalogue=catalogue)
    if moments:
        moments_record(moments)
    return StreakUpdate(
        learners=changed,
        active_days=sum(len(outcome.activated) for outcome in outcomes),
        freezes_spent=len(uses),
        freezes_refunded=refunded,
        milestones=len(hits),
    )


def _milestones_pay(
    hits: list[tuple[int, StreakMilestone, datetime.date, datetime.date, int]],
    reward: Reward | None,
    catalogue: Any,
    first_at: Mapping[tuple[int, datetime.date], datetime.datetime],
    profiles: Mapping[int, _Profile],
    now: datetime.datetime,
    claims: list[Claim],
    moments: list[MomentDraft],
) -> None:
    """Record the milestones reached (once per streak) and add their XP, freezes, moments."""
    StreakMilestoneReached.objects.bulk_create(
        [
            StreakMilestoneReached(
                user_id=user_id,
                milestone=milestone,
                streak_started_on=started,
                reached_on=day,
                created_at=now,
            )
            for user_id, milestone, started, day, _ in hits
        ],
        ignore_conflicts=True,
    )
    action = catalogue.by_code.get(MILESTONE_ACTION)
    freeze_grants = []
    for user_id, milestone, started, day, granted in hits:
        key = f"milestone:{user_id}:{milestone.days}:{started.isoformat()}"
        at = first_at.get((user_id, day)) or _noon(day, profiles[user_id].tz)
        if action is not None and milestone.xp_reward:
            claims.append(
                Claim(
                    user_id=user_id,
                    action=action,
                    amount=milestone.xp_reward,
                    reference=f"{milestone.days}:{started.isoformat()}",
                    occurred_at=at,
                    course_id=None,
                    key=key,
                    reason=f"{milestone.days}-day streak",
                )
            )
        if reward is not None and milestone.freezes_reward:
            # The quantity is what fits under the cap, worked out in order with the batch's
            # spends; a learner holding the most gets a grant of 0 (recorded, so never again).
            freeze_grants.append(
                RewardGrant(
                    user_id=user_id,
                    reward=reward,
                    quantity=granted,
                    requested_quantity=milestone.freezes_reward,
                    source="milestone",
                    reason=f"{milestone.days}-day streak milestone",
                    idempotency_key=key,
                    created_at=now,
                )
            )
        parts = [f"{milestone.xp_reward:,} XP"] if milestone.xp_reward else []
        if granted:
            parts.append("a streak freeze" if granted == 1 else f"{granted} streak freezes")
        earned = f" You earned {' and '.join(parts)}." if parts else ""
        moments.append(
            MomentDraft(
                user_id=user_id,
                kind=Moment.Kind.STREAK_MILESTONE,
                title=f"{milestone.days}-day streak: {milestone.name}",
                body=f"{milestone.days} days in a row.{earned}",
                data={
                    "days": milestone.days,
                    "streak_started_on": started.isoformat(),
                    "reached_on": day.isoformat(),
                    "xp": milestone.xp_reward,
                    "freezes": granted,
                },
                dedupe_key=f"streak_milestone:{user_id}:{milestone.days}:{started.isoformat()}",
                occurred_at=at,
            )
        )
    if freeze_grants:
        RewardGrant.objects.bulk_create(freeze_grants, ignore_conflicts=True)


def _freeze_key(user_id: int, day: datetime.date) -> str:
    return f"streak_freeze:{user_id}:{day.isoformat()}"


def _freeze_moment(user_id: int, day: datetime.date, left: int) -> MomentDraft:
    return MomentDraft(
        user_id=user_id,
        kind=Moment.Kind.STREAK_FREEZE_USED,
        title="A streak freeze saved your streak",
        body=f"You missed {day:%A %-d %B}; a streak freeze covered it.",
        data={"date": day.isoformat(), "freezes_left": left},
        dedupe_key=f"streak_freeze_used:{user_id}:{day.isoformat()}",
    )


def _noon(day: datetime.date, tz_name: str) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=zone(tz_name)).astimezone(
        datetime.UTC
    )


def _profiles_write(rows: Sequence[tuple[Any, ...]], now: datetime.datetime) -> None:
    """Set (current, longest, last active date) of locked profiles in one UPDATE."""
    table = connection.ops.quote_name(LearnerGameProfile._meta.db_table)
    if connection.vendor == "postgresql":
        # One statement with four array parameters, whatever the number of learners.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS p SET current_streak = v.current_streak, "
                "longest_streak = v.longest_streak, last_active_date = v.last_active_date, "
                "updated_at = %s FROM unnest(%s::bigint[], %s::integer[], %s::integer[], "
                "%s::date[]) AS v(user_id, current_streak, longest_streak, last_active_date) "
                "WHERE p.user_id = v.user_id",
                [now, *(list(column) for column in zip(*rows, strict=True))],
            )
        return
    # SQLite: multi-row VALUES, as many rows a statement as its parameter limit allows.
    row_sql = "(%s, %s, %s, %s)"
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            part = rows[start : start + 5000]
            params: list[Any] = []
            for user_id, current, longest, last_active in part:
                params += [user_id, current, longest, adapt(last_active)]
            cursor.execute(
                f"WITH v(user_id, current_streak, longest_streak, last_active_date) AS "
                f"(VALUES {', '.join([row_sql] * len(part))}) "
                f"UPDATE {table} SET current_streak = v.current_streak, "
                "longest_streak = v.longest_streak, last_active_date = v.last_active_date, "
                f"updated_at = %s FROM v WHERE {table}.user_id = v.user_id",
                [*params, connection.ops.adapt_datetimefield_value(now)],
            )


# --- settling missed days (hourly) ------------------------------------------------------------


def streaks_settle(*, now: datetime.datetime | None = None) -> StreakUpdate:
    """Spend freezes for the days that ended without activity; end the streaks they cannot save.

    For every learner with a streak whose latest streak day is before their local yesterday:
    if the missed days (all ended) are at most the freezes they hold, those days become
    frozen and the freezes are spent; otherwise the streak has ended and the profile's current
    streak becomes 0. Idempotent: a second run in the same hour finds nothing to do. Works
    through learners in chunks, each its own transaction.
    """
    now = now or timezone.now()
    total = StreakUpdate()
    after = 0
    while True:
        chunk = list(
            LearnerGameProfile.objects.filter(current_streak__gt=0, user_id__gt=after)
            .order_by("user_id")
            .values_list("user_id", flat=True)[:SETTLE_CHUNK]
        )
        if not chunk:
            return total
        after = chunk[-1]
        done = _settle_chunk(chunk, now)
        total = StreakUpdate(
            learners=total.learners + done.learners,
            freezes_spent=total.freezes_spent + done.freezes_spent,
            lapsed=total.lapsed + done.lapsed,
        )


def _settle_due(
    user_ids: Sequence[int], now: datetime.datetime
) -> tuple[dict[int, StreakTail | None], dict[int, str]]:
    """The learners of `user_ids` with days missed since their latest streak day (or none)."""
    zones = dict(User.objects.filter(any_of("pk", user_ids)).values_list("pk", "timezone"))
    tails = streak_tails(user_ids=user_ids)
    due: dict[int, StreakTail | None] = {}
    for user_id in user_ids:
        tail = tails.get(user_id)
        if tail is None or missed_days(tail.date, local_date(now, zones[user_id])) > 0:
            due[user_id] = tail
    return due, zones


@transaction.atomic
def _settle_chunk(user_ids: Sequence[int], now: datetime.datetime) -> StreakUpdate:
    due, _ = _settle_due(user_ids, now)
    if not due:
        return StreakUpdate()
    profiles = _profiles_locked(sorted(due))
    # Read again under the lock: activity may have arrived since the first look.
    due, zones = _settle_due(sorted(due), now)
    reward = _freeze_reward()
    cap = (reward.max_held or 0) if reward is not None else 0
    held = freezes_held(user_ids=[u for u, tail in due.items() if tail]) if cap else {}
    outcomes = []
    lapsed = []
    for user_id, tail in due.items():
        missed = missed_days(tail.date, local_date(now, zones[user_id])) if tail else 0
        if tail is None or missed > held.get(user_id, 0):
            # No freeze can save it (or a profile shows a streak without any streak day).
            lapsed.append(user_id)
            continue
        outcome = _Outcome(
            user_id=user_id, held=held[user_id] - missed, cap=cap, current=tail.run_length
        )
        started = tail.run_started_on or tail.date
        for offset in range(1, missed + 1):
            day = tail.date + offset * DAY
            outcome.rows.append((day, FROZEN, 0, started, tail.run_length))
            outcome.frozen.append(day)
        outcome.longest = tail.run_length
        outcomes.append(outcome)
    written = _outcomes_write(outcomes, profiles, reward, {}, None)
    ended = LearnerGameProfile.objects.filter(user_id__in=lapsed, current_streak__gt=0).update(
        current_streak=0, updated_at=now
    )
    return StreakUpdate(
        learners=written.learners + ended, freezes_spent=written.freezes_spent, lapsed=ended
    )


# --- "streak at risk" moments (hourly) --------------------------------------------------------


def streak_at_risk_moments_record(
    *,
    now: datetime.datetime | None = None,
    from_local_hour: int = AT_RISK_LOCAL_HOUR,
    min_streak_days: int = AT_RISK_MIN_DAYS,
) -> int:
    """Record a `streak_at_risk` moment for each learner at risk today, once per local day.

    Only from `from_local_hour` o'clock in the learner's timezone (there is still time to
    save the streak, and the day's study time has usually passed). Returns how many moments
    were new; a second run the same day adds none (dedupe key per learner and local date).
    """
    now = now or timezone.now()
    drafts = []
    for state in streak_at_risk_states(
        now=now, min_streak_days=min_streak_days, from_local_hour=from_local_hour
    ):
        user_id = state.user_id
        if state.freezes_held:
            body = (
                f"Your {state.current}-day streak needs an activity today, or a streak "
                "freeze will be spent tonight."
            )
        else:
            body = f"Your {state.current}-day streak ends tonight unless you study today."
        drafts.append(
            MomentDraft(
                user_id=user_id,
                kind=Moment.Kind.STREAK_AT_RISK,
                title=f"Keep your {state.current}-day streak alive",
                body=body,
                data={
                    "streak_days": state.current,
                    "freezes_held": state.freezes_held,
                    "local_date": state.today.isoformat(),
                    "local_time": state.local_now.strftime("%H:%M"),
                },
                dedupe_key=f"streak_at_risk:{user_id}:{state.today.isoformat()}",
                occurred_at=now,
            )
        )
    return len(moments_record(drafts)) if drafts else 0


# --- rebuilding ---------------------------------------------------------------------------------


@transaction.atomic
def streaks_rebuild(*, user_ids: Iterable[int]) -> int:
    """Recompute the learners' streak lengths and profile streak fields from their days.

    For repairs (a data fix, an import done without streaks); pays nothing, spends nothing,
    records no milestone. Returns how many learners' rows changed.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return 0
    _profiles_locked(ids)
    history = _days_load(ids)
    now = timezone.now()
    day_rows = []
    profile_rows = []
    changed = 0
    for user_id, days in history.items():
        if not days:
            profile_rows.append((user_id, 0, 0, None))
            continue
        _runs_recompute(_Outcome(user_id=user_id, held=0, cap=0), days, {}, ())
        rows = [
            (user_id, day, row.status, 0, row.run_started_on, row.run_length, now)
            for day, row in days.items()
            if row.changed()
        ]
        active = [day for day, row in days.items() if row.status == ACTIVE]
        profile_rows.append(
            (
                user_id,
                days[max(days)].run_length,
                max(row.run_length for row in days.values()),
                max(active, default=None),
            )
        )
        if rows:
            changed += 1
            day_rows.extend(rows)
    if day_rows:
        rows_merge(_DAY_MERGE, day_rows)
    _profiles_write(profile_rows, now)
    return changed
