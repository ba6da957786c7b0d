"""Weekly leagues: learners active in a week, grouped by tier and pace; promotion at its end.

The week
    A league week is the learner-local Monday to Sunday: a ledger row counts for the week of
    its ``local_date``, the day it fell on in the learner's own timezone, exactly as the
    weekly leaderboard counts it. So every learner gets a full week of their own days, a
    league's points are its members' weekly-board XP, and a learner who travels keeps the
    rows where they were booked. The one global boundary at which a week *closes* is the
    moment the last timezone (UTC-12) has finished its Sunday, Monday 12:00 UTC, plus
    CLOSE_GRACE for events still on their way: Monday 13:00 UTC. (Monday 00:00 UTC would cut
    the Americas' Sunday evening out of their week, and Asia's Monday morning in.)

Joining
    A learner is in a league only for a week in which they earn XP: their first positive
    ledger row of a current week (`leagues_record`, after the commit, from the leaderboards'
    hand-over) places them in a league of their tier (``LearnerGameProfile.league_tier``)
    and similar pace: last week's league points. Among that tier's leagues with room
    (fewer than LEAGUE_SIZE), the one whose pace is closest takes them; if none has room, a
    new league is formed around their pace. Joiners handled together are placed fastest
    first, so a batch fills leagues of about 30 in order of pace. While an earlier week is
    not closed yet (its promotions decide this week's tiers) the week takes nobody: its
    learners so far are grouped when that week closes, and anyone missed is swept in when
    this week closes.

Closing (`leagues_rollover`, by beat; `league_week_close` for one week)
    Exactly once per week: the week is claimed by one UPDATE from open to closing (a second
    worker's UPDATE finds it closing and claims nothing; a claim older than STALE_CLOSE,
    whose worker died, may be retaken), then closed in one transaction that holds its row:
    points from the ledger, final ranks (most points first, equal points to the lower user
    id), outcomes, the learners' new tiers, the promotion bonus (the catalogue's
    `league_promoted` XP action, once per week and learner by its idempotency key; booked
    at the close, it is XP of the new week but no activity that enters the learner in its
    league), and a `league_result` moment each (dedupe key per week and learner). The top
    ceil(n/6) of a league of n (5 of 30) with points go up a tier, the bottom floor(n/6) go
    down (nobody from a league of fewer than 6); Diamond has no tier above, Bronze none
    below. Then the next week's learners so far are grouped. An error rolls all of it back
    and releases the claim (a worker that dies leaves its claim, retaken once stale); a
    redelivered task finds the week closed and does nothing.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.localtime import local_date
from core.statement_timeout import statement_timeout_for_jobs
from gamification.models import (
    League,
    LeagueMembership,
    LeagueWeek,
    LearnerGameProfile,
    Moment,
    XpTransaction,
)
from gamification.selectors.leaderboards import week_points_from_ledger
from gamification.selectors.leagues import (
    DEMOTION,
    EARLIEST_ZONE,
    LEAGUE_SIZE,
    PROMOTION,
    PROMOTION_ACTION,
    SAFE,
    TIER_LABELS,
    TIERS,
    current_weeks,
    tier_after,
    week_active_learner_ids,
    week_closes_at,
    week_start,
    zone_of,
)
from gamification.selectors.xp import xp_action_catalogue
from gamification.services.moments import MomentDraft, moments_record
from gamification.services.xp import Claim, xp_award_claims

logger = logging.getLogger(__name__)

PROMOTED = LeagueMembership.Outcome.PROMOTED
_OUTCOME_OF_ZONE = {
    PROMOTION: PROMOTED,
    DEMOTION: LeagueMembership.Outcome.DEMOTED,
    SAFE: LeagueMembership.Outcome.STAYED,
}

STALE_CLOSE = datetime.timedelta(hours=1)
IN_CHUNK = 5000  # ids per IN (...) list: SQLite takes at most 32,766 parameters
UNFINISHED = (LeagueWeek.Status.OPEN, LeagueWeek.Status.CLOSING)


class LedgerEntry(Protocol):
    """What joining needs of a ledger row (core.records.XpEntryRecord has it)."""

    @property
    def user_id(self) -> int: ...
    @property
    def amount(self) -> int: ...
    @property
    def local_date(self) -> datetime.date: ...


@dataclass(frozen=True, slots=True)
class LeagueWeekClose:
    """How a week closed: its Monday, leagues, members and how many went up and down."""

    week_starts_on: datetime.date
    leagues: int
    members: int
    promoted: int
    demoted: int


# --- joining -----------------------------------------------------------------------------------


def leagues_record(*, entries: Iterable[LedgerEntry], now: datetime.datetime | None = None) -> int:
    """Place learners whose new ledger rows are their first XP of a current week; return how
    many joined.

    Call it after the commit (the leaderboards' hand-over does). Idempotent: a learner is in
    at most one league a week (unique (week, user)). One query when nobody is new to the
    week; rows of past or future weeks, revocations and promotion bonuses place nobody.
    """
    now = now or timezone.now()
    current = current_weeks(now)
    wanted: dict[datetime.date, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.amount > 0 and getattr(entry, "action_code", None) != PROMOTION_ACTION:
            monday = week_start(entry.local_date)
            if monday in current:
                wanted[monday].add(entry.user_id)
    if not wanted:
        return 0
    joined = 0
    members = set(
        LeagueMembership.objects.filter(
            week__starts_on__in=list(wanted),
            user_id__in={uid for users in wanted.values() for uid in users},
        ).values_list("week__starts_on", "user_id")
    )
    for monday in sorted(wanted):
        missing = {uid for uid in wanted[monday] if (monday, uid) not in members}
        if missing:
            joined += _join(week_starts_on=monday, user_ids=missing)
    return joined


def _join(*, week_starts_on: datetime.date, user_ids: Collection[int]) -> int:
    with transaction.atomic():
        if LeagueWeek.objects.filter(starts_on__lt=week_starts_on, status__in=UNFINISHED).exists():
            return 0  # grouped when the earlier week closes, with the tiers it gives
        week, _ = LeagueWeek.objects.get_or_create(starts_on=week_starts_on)
        # The week's row serialises placements, so that no league overfills and numbers
        # stay unique; a week being closed takes nobody.
        locked = (
            LeagueWeek.objects.select_for_update()
            .filter(pk=week.pk, status=LeagueWeek.Status.OPEN)
            .first()
        )
        if locked is None:
            return 0
        return _place(locked, user_ids)


def _place(week: LeagueWeek, user_ids: Collection[int]) -> int:
    """Put learners (not yet in a league this week) into leagues of their tier and pace.

    The caller holds the week's row locked. Queries: the week's members, the newcomers'
    tiers and last week's points (per IN_CHUNK), the leagues, the inserts.
    """
    wanted = set(user_ids)
    if len(wanted) > IN_CHUNK:
        taken = set(LeagueMembership.objects.filter(week=week).values_list("user_id", flat=True))
    else:
        taken = set(
            LeagueMembership.objects.filter(week=week, user_id__in=wanted).values_list(
                "user_id", flat=True
            )
        )
    newcomers = sorted(wanted - taken)
    if not newcomers:
        return 0
    tiers: dict[int, str] = {}
    pace: dict[int, int] = {}
    last_week = week.starts_on - datetime.timedelta(days=7)
    for start in range(0, len(newcomers), IN_CHUNK):
        chunk = newcomers[start : start + IN_CHUNK]
        tiers.update(
            LearnerGameProfile.objects.filter(user_id__in=chunk).values_list(
                "user_id", "league_tier"
            )
        )
        pace.update(
            LeagueMembership.objects.filter(
                week__starts_on=last_week, user_id__in=chunk
            ).values_list("user_id", "xp")
        )
    numbers: dict[str, int] = defaultdict(int)  # tier -> highest league number
    with_room: dict[str, list[list[Any]]] = defaultdict(list)  # tier -> [[league, size]]
    for league in League.objects.filter(week=week).annotate(size=Count("memberships")):
        numbers[league.tier] = max(numbers[league.tier], league.number)
        if league.size < LEAGUE_SIZE:
            with_room[league.tier].append([league, league.size])
    memberships = []
    now = timezone.now()
    for uid in sorted(newcomers, key=lambda uid: (-pace.get(uid, 0), uid)):  # fastest first
        tier = tiers.get(uid, TIERS[0])
        tier = tier if tier in TIERS else TIERS[0]
        xp = pace.get(uid, 0)
        candidates = with_room[tier]
        if candidates:
            chosen = min(candidates, key=lambda item: (abs(item[0].pace_xp - xp), item[0].number))
        else:
            numbers[tier] += 1
            league = League.objects.create(week=week, tier=tier, number=numbers[tier], pace_xp=xp)
            chosen = [league, 0]
            candidates.append(chosen)
        chosen[1] += 1
        if chosen[1] >= LEAGUE_SIZE:
            candidates.remove(chosen)
        memberships.append(
            LeagueMembership(week=week, league=chosen[0], user_id=uid, joined_at=now)
        )
    LeagueMembership.objects.bulk_create(memberships, batch_size=1000)
    return len(memberships)


# --- closing -----------------------------------------------------------------------------------


def leagues_rollover(*, now: datetime.datetime | None = None) -> list[LeagueWeekClose]:
    """Close every league week that is due, oldest first; return what each close did.

    Safe to run at any time and from any number of workers at once: a week is closed once.
    A due week another worker is closing stops the run, since later weeks depend on it.
    """
    now = now or timezone.now()
    closed: list[LeagueWeekClose] = []
    while True:
        week = (
            LeagueWeek.objects.filter(status__in=UNFINISHED)
            .order_by("starts_on")
            .values_list("pk", "starts_on")
            .first()
        )
        if week is None or week_closes_at(week[1]) > now:
            return closed
        result = league_week_close(week_id=week[0], now=now)
        if result is None:
            return closed
        closed.append(result)


def league_week_close(
    *, week_id: int, now: datetime.datetime | None = None
) -> LeagueWeekClose | None:
    """Close one due league week (ranks, outcomes, tiers, moments); None if not claimed.

    Not claimed: the week is gone, not due yet, closed already, or being closed by another
    worker (a claim younger than STALE_CLOSE).
    """
    now = now or timezone.now()
    week = LeagueWeek.objects.filter(pk=week_id).values_list("starts_on", flat=True).first()
    if week is None or week_closes_at(week) > now:
        return None
    stamp = timezone.now()
    claimed = (
        LeagueWeek.objects.filter(pk=week_id)
        .filter(
            Q(status=LeagueWeek.Status.OPEN)
            | Q(status=LeagueWeek.Status.CLOSING, closing_started_at__lt=stamp - STALE_CLOSE)
        )
        .update(status=LeagueWeek.Status.CLOSING, closing_started_at=stamp)
    )
    if not claimed:
        return None
    try:
        with transaction.atomic():
            statement_timeout_for_jobs(local=True)  # a job, not a request
            locked = LeagueWeek.objects.select_for_update().get(pk=week_id)
            if locked.status != LeagueWeek.Status.CLOSING or locked.closing_started_at != stamp:
                return None  # retaken as stale by another worker meanwhile
            result = _close(locked, now=now)
            _open_following(locked, now=now)
            locked.status = LeagueWeek.Status.CLOSED
            locked.closed_at = now
            locked.save(update_fields=["status", "closed_at"])
    except Exception:
        # Let the next beat try again at once rather than after STALE_CLOSE.
        LeagueWeek.objects.filter(
            pk=week_id, status=LeagueWeek.Status.CLOSING, closing_started_at=stamp
        ).update(status=LeagueWeek.Status.OPEN, closing_started_at=None)
        raise
    return result


def _close(week: LeagueWeek, *, now: datetime.datetime) -> LeagueWeekClose:
    # Anyone whose hand-over was lost, or came while the week took no joins, is placed now.
    _place(week, week_active_learner_ids(week_starts_on=week.starts_on))
    points = week_points_from_ledger(week_starts_on=week.starts_on)
    memberships = list(
        LeagueMembership.objects.filter(week=week).select_related("league").order_by("pk")
    )
    by_league: dict[int, list[LeagueMembership]] = defaultdict(list)
    for membership in memberships:
        membership.xp = points.get(membership.user_id, 0)
        by_league[membership.league_id].append(membership)
    new_tiers: dict[str, list[int]] = defaultdict(list)
    results: list[tuple[LeagueMembership, int, str, str]] = []
    promoted = demoted = 0
    for members in by_league.values():
        members.sort(key=lambda m: (-m.xp, m.user_id))
        tier = members[0].league.tier
        for index, membership in enumerate(members):
            rank = index + 1
            zone = zone_of(rank=rank, members=len(members), xp=membership.xp, tier=tier)
            outcome = _OUTCOME_OF_ZONE[zone]
            promoted += outcome == PROMOTED
            demoted += outcome == LeagueMembership.Outcome.DEMOTED
            membership.final_rank = rank
            membership.outcome = outcome
            after = tier_after(tier, outcome)
            new_tiers[after].append(membership.user_id)
            results.append((membership, len(members), tier, after))
    LeagueMembership.objects.bulk_update(
        memberships, ["xp", "final_rank", "outcome"], batch_size=1000
    )
    for tier, user_ids in new_tiers.items():
        for start in range(0, len(user_ids), 1000):
            LearnerGameProfile.objects.filter(user_id__in=user_ids[start : start + 1000]).update(
                league_tier=tier
            )
    paid = _promotions_pay(week, [m.user_id for m in memberships if m.outcome == PROMOTED], now)
    moments = [
        _result_moment(week, membership, size, tier, after, paid, now)
        for membership, size, tier, after in results
    ]
    for start in range(0, len(moments), 1000):
        moments_record(moments[start : start + 1000])
    return LeagueWeekClose(
        week_starts_on=week.starts_on,
        leagues=len(by_league),
        members=len(memberships),
        promoted=promoted,
        demoted=demoted,
    )


def _open_following(week: LeagueWeek, *, now: datetime.datetime) -> None:
    """Group the learners already active in the next week, now that their tiers are known."""
    following = week.starts_on + datetime.timedelta(days=7)
    if following > week_start(local_date(now, EARLIEST_ZONE)):
        return  # no timezone has reached it yet; its learners join as they earn XP
    successor, _ = LeagueWeek.objects.get_or_create(starts_on=following)
    locked = (
        LeagueWeek.objects.select_for_update()
        .filter(pk=successor.pk, status=LeagueWeek.Status.OPEN)
        .first()
    )
    if locked is not None:
        _place(locked, week_active_learner_ids(week_starts_on=following))


def _promotions_pay(
    week: LeagueWeek, user_ids: list[int], now: datetime.datetime
) -> dict[int, int]:
    """Pay each promoted learner the promotion action's XP, once per week; return who got what.

    Booked at the close, so it is XP of the new week like any other (it does not by itself
    enter the learner in the new week's league: see PROMOTION_ACTION).
    """
    if not user_ids:
        return {}
    catalogue = xp_action_catalogue()
    spec = catalogue.by_code.get(PROMOTION_ACTION)
    if spec is None or spec.amount <= 0:
        return {}
    reference = f"league-week:{week.starts_on.isoformat()}"
    keys = {uid: f"{PROMOTION_ACTION}:{week.starts_on.isoformat()}:{uid}" for uid in user_ids}
    for start in range(0, len(user_ids), 1000):
        claims = [
            Claim(
                user_id=uid,
                action=spec,
                amount=spec.amount,
                reference=reference,
                occurred_at=now,
                course_id=None,
                key=keys[uid],
                reason="Promoted at the end of the league week",
            )
            for uid in user_ids[start : start + 1000]
        ]
        xp_award_claims(claims, catalogue=catalogue)
    paid: dict[int, int] = {}
    key_list = list(keys.values())
    for start in range(0, len(key_list), 1000):
        paid.update(
            XpTransaction.objects.filter(
                idempotency_key__in=key_list[start : start + 1000]
            ).values_list("user_id", "amount")
        )
    return paid


def _result_moment(
    week: LeagueWeek,
    membership: LeagueMembership,
    size: int,
    tier: str,
    after: str,
    paid: dict[int, int],
    now: datetime.datetime,
) -> MomentDraft:
    labels = TIER_LABELS
    outcome = membership.outcome
    if outcome == LeagueMembership.Outcome.PROMOTED:
        title = f"Promoted to the {labels[after]} league"
    elif outcome == LeagueMembership.Outcome.DEMOTED:
        title = f"Moved down to the {labels[after]} league"
    else:
        title = f"You stay in the {labels[tier]} league"
    body = (
        f"You finished {_ordinal(membership.final_rank or 0)} of {size} with "
        f"{membership.xp} XP in the week of {week.starts_on.day} {week.starts_on:%B}."
    )
    reward = paid.get(membership.user_id, 0)
    if reward:
        body += f" Promotion bonus: {reward} XP."
    return MomentDraft(
        user_id=membership.user_id,
        kind=Moment.Kind.LEAGUE_RESULT,
        title=title,
        body=body,
        data={
            "week_starts_on": week.starts_on.isoformat(),
            "league_id": membership.league_id,
            "tier": tier,
            "new_tier": after,
            "rank": membership.final_rank,
            "members": size,
            "xp": membership.xp,
            "outcome": outcome,
            "bonus_xp": reward,
        },
        dedupe_key=f"league_result:{week.starts_on.isoformat()}:{membership.user_id}",
        occurred_at=now,
    )


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
