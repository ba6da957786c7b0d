"""Reads of the weekly leagues: a learner's league table with its zones, and past results.

The league calendar and the promotion rules live here too, so that the pages draw the zones
by the same rules the week's close applies (gamification.services.leagues explains them).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from core.localtime import local_date
from gamification.models import LeagueMembership, LeagueTier, LeagueWeek
from gamification.selectors.leaderboards import (
    WEEKLY,
    Board,
    board_ledger_rows,
    display_name,
    shown_as,
    viewer_today,
    week_points,
)

LEAGUE_SIZE = 30
ZONE_SHARE = 6  # promotion zone ceil(n / 6), demotion zone floor(n / 6): 5 and 5 of 30
TIERS: tuple[str, ...] = tuple(LeagueTier.values)  # lowest first
TIER_LABELS = dict(LeagueTier.choices)
CLOSE_GRACE = datetime.timedelta(hours=1)
# The zones whose day starts first and last: a week is current while any zone is in it.
EARLIEST_ZONE, LATEST_ZONE = "Etc/GMT-14", "Etc/GMT+12"  # UTC+14 and UTC-12 (POSIX signs)
_LAST_SUNDAY_ENDS = datetime.timedelta(days=7, hours=12)  # Monday 12:00 UTC after the week
PROMOTION, DEMOTION, SAFE = "promotion", "demotion", "safe"
# The XP action paid on promotion (gamification.defaults). Being paid it is not activity: it
# does not by itself put a learner in the new week's league.
PROMOTION_ACTION = "league_promoted"


# --- the calendar and the rules ----------------------------------------------------------------


def week_start(day: datetime.date) -> datetime.date:
    """The Monday of the league week containing `day`."""
    return day - datetime.timedelta(days=day.weekday())


def week_closes_at(starts_on: datetime.date) -> datetime.datetime:
    """When the week starting on `starts_on` is due to close: Monday 13:00 UTC after it."""
    monday = datetime.datetime.combine(starts_on, datetime.time(), tzinfo=datetime.UTC)
    return monday + _LAST_SUNDAY_ENDS + CLOSE_GRACE


def current_weeks(now: datetime.datetime) -> set[datetime.date]:
    """The Mondays of the weeks some timezone is in at `now` (one, or two around Monday)."""
    return {week_start(local_date(now, EARLIEST_ZONE)), week_start(local_date(now, LATEST_ZONE))}


def zone_sizes(members: int) -> tuple[int, int]:
    """(promoted, demoted) places of a league of `members` learners: 5 and 5 of 30."""
    return math.ceil(members / ZONE_SHARE), members // ZONE_SHARE


def zone_of(*, rank: int, members: int, xp: int, tier: str) -> str:
    """The zone a place is in: promotion (top places with points, below Diamond), demotion
    (bottom places, above Bronze) or safe."""
    up, down = zone_sizes(members)
    if rank <= up and xp > 0 and tier != TIERS[-1]:
        return PROMOTION
    if rank > members - down and tier != TIERS[0]:
        return DEMOTION
    return SAFE


def tier_after(tier: str, outcome: str) -> str:
    """The tier a learner of `tier` moves to with `outcome`."""
    index = TIERS.index(tier) if tier in TIERS else 0
    if outcome == LeagueMembership.Outcome.PROMOTED:
        index = min(index + 1, len(TIERS) - 1)
    elif outcome == LeagueMembership.Outcome.DEMOTED:
        index = max(index - 1, 0)
    return TIERS[index]


def week_active_learner_ids(*, week_starts_on: datetime.date) -> list[int]:
    """Learners with a positive ledger row in the learner-local week, by id (one query);
    a promotion bonus alone is no activity."""
    rows = (
        board_ledger_rows(Board(WEEKLY, week_starts_on))
        .filter(amount__gt=0)
        .exclude(action__code=PROMOTION_ACTION)
    )
    return sorted(set(rows.values_list("user_id", flat=True).distinct()))


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeagueRow:
    """One line of a league table; an opted-out learner (not the viewer) is "a learner"."""

    rank: int
    xp: int
    user_id: int | None
    external_id: str | None
    name: str
    hidden: bool
    is_viewer: bool
    zone: str
    outcome: str  # once the week has closed: promoted, stayed or demoted


@dataclass(frozen=True, slots=True)
class LeagueStanding:
    """The viewer's league of a week: its table (live points, or final once closed)."""

    week_starts_on: datetime.date
    week_ends_on: datetime.date
    closes_at: datetime.datetime
    final: bool
    tier: str
    tier_label: str
    league_id: int
    number: int
    size: int
    promote_count: int
    demote_count: int
    rows: tuple[LeagueRow, ...]
    viewer: LeagueRow


@dataclass(frozen=True, slots=True)
class LeagueResult:
    """How one closed week ended for a learner."""

    week_starts_on: datetime.date
    tier: str
    tier_label: str
    new_tier: str
    final_rank: int | None
    members: int
    xp: int
    outcome: str


# --- selectors ---------------------------------------------------------------------------------


def league_standing(
    *, user_id: int, on: datetime.date | None = None, now: datetime.datetime | None = None
) -> LeagueStanding | None:
    """Return the learner's league table of the week containing `on` (default their local
    today), or None when they are in no league that week.

    Live points during the week (the weekly board's XP), final points, ranks and outcomes
    once it has closed. Queries: the timezone (without `on`), the membership, the members
    with their names, and the points (a Redis round trip, or one aggregation) while open.
    """
    if on is None:
        on = viewer_today(user_id=user_id, now=now or timezone.now())
    mine = (
        LeagueMembership.objects.filter(user_id=user_id, week__starts_on=week_start(on))
        .select_related("league", "week")
        .first()
    )
    if mine is None:
        return None
    league, week = mine.league, mine.week
    members = list(
        LeagueMembership.objects.filter(league=league).values_list(
            "user_id",
            "xp",
            "final_rank",
            "outcome",
            "user__external_id",
            "user__first_name",
            "user__last_name",
            "user__game_profile__show_on_leaderboards",
        )
    )
    final = week.status == LeagueWeek.Status.CLOSED
    if final:
        points = {uid: xp for uid, xp, *_ in members}
        order = sorted(members, key=lambda m: (m[2] or 0, m[0]))
    else:
        points = week_points(week_starts_on=week.starts_on, user_ids=[m[0] for m in members])
        order = sorted(members, key=lambda m: (-points[m[0]], m[0]))
    size = len(members)
    up, down = zone_sizes(size)
    rows = []
    for index, (uid, _, final_rank, outcome, external_id, first, last, shown) in enumerate(order):
        rank = final_rank if final and final_rank else index + 1
        xp = points[uid]
        if final and outcome:
            zone = {
                LeagueMembership.Outcome.PROMOTED: PROMOTION,
                LeagueMembership.Outcome.DEMOTED: DEMOTION,
            }.get(outcome, SAFE)
        else:
            zone = zone_of(rank=rank, members=size, xp=xp, tier=league.tier)
        identity = shown_as(
            uid, external_id, display_name(uid, first, last), shown is not False, user_id
        )
        rows.append(LeagueRow(rank, xp, *identity, zone, outcome))
    return LeagueStanding(
        week_starts_on=week.starts_on,
        week_ends_on=week.starts_on + datetime.timedelta(days=6),
        closes_at=week_closes_at(week.starts_on),
        final=final,
        tier=league.tier,
        tier_label=TIER_LABELS.get(league.tier, league.tier),
        league_id=league.pk,
        number=league.number,
        size=size,
        promote_count=up if league.tier != TIERS[-1] else 0,
        demote_count=down if league.tier != TIERS[0] else 0,
        rows=tuple(rows),
        viewer=next(row for row in rows if row.is_viewer),
    )


def league_history(*, user_id: int, limit: int = 10) -> tuple[LeagueResult, ...]:
    """Return how the learner's closed league weeks ended, latest first (two queries)."""
    memberships = list(
        LeagueMembership.objects.filter(user_id=user_id, week__status=LeagueWeek.Status.CLOSED)
        .select_related("league", "week")
        .order_by("-week__starts_on")[:limit]
    )
    results = []
    league_sizes = _league_sizes([m.league_id for m in memberships])
    for membership in memberships:
        tier = membership.league.tier
        results.append(
            LeagueResult(
                week_starts_on=membership.week.starts_on,
                tier=tier,
                tier_label=TIER_LABELS.get(tier, tier),
                new_tier=tier_after(tier, membership.outcome),
                final_rank=membership.final_rank,
                members=league_sizes.get(membership.league_id, 0),
                xp=membership.xp,
                outcome=membership.outcome,
            )
        )
    return tuple(results)


def _league_sizes(league_ids: list[int]) -> dict[int, int]:
    return dict(
        LeagueMembership.objects.filter(league_id__in=league_ids)
        .values("league_id")
        .annotate(n=Count("id"))
        .values_list("league_id", "n")
    )
