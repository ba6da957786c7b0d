"""One learner's whole gamification state as plain frozen records, for their pages and the API.

`learner_gamification_summary` answers everything the overview and the read API show (XP,
level and progress, streak and freezes, achievements with progress, ranks, league, rewards,
recent XP, recent moments), composed from the selectors that own each part (levels, streaks,
rewards, leaderboards, leagues); it costs a fixed number of queries whatever the learner's
history. The other pages need less: `learner_header` (name, XP, level) plus their own part,
and the heat-map reads `streak_calendar`.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from core.localtime import local_date
from gamification.models import Achievement, AchievementUnlock, LearnerGameProfile, XpTransaction
from gamification.selectors.achievements import achievement_progress, achievement_values
from gamification.selectors.leaderboards import (
    LeaderboardPage,
    LeaderboardRank,
    leaderboard_page,
    leaderboard_ranks,
)
from gamification.selectors.leagues import LeagueStanding, league_standing
from gamification.selectors.levels import LevelInfo, LevelProgress, level_progress, level_table
from gamification.selectors.moments import MomentItem, moment_list
from gamification.selectors.rewards import RewardHolding, reward_inventory
from gamification.selectors.streaks import StreakState, streak_day_list, streak_state
from gamification.selectors.xp import xp_ledger_list
from learning.models import Course, Lesson

RECENT_XP = 10
RECENT_MOMENTS = 5
NOTICES = 3  # unseen moments shown as notices on the overview, newest first
CALENDAR_WEEKS = 12
BOARD_TOP = 25  # rows of a leaderboard page
PERIOD_LABELS = {
    "daily": "Today",
    "weekly": "This week",
    "monthly": "This month",
    "all_time": "All time",
}
# How each period reads in a sentence ("You are #3 with 120 XP this week").
PERIOD_PHRASES = {
    "daily": "today",
    "weekly": "this week",
    "monthly": "this month",
    "all_time": "in all",
}
CRITERION_UNITS = {
    "lessons_completed": "lessons",
    "courses_completed": "courses",
    "streak_days": "days",
    "level_reached": "",
    "perfect_quizzes": "perfect quizzes",
    "total_xp": "XP",
    "event_count": "times",
}
# The icons of static/img/gamification-icons.svg, and the names and emoji an achievement's
# `icon` may give for each (anything else is drawn as a star), so that a badge looks the same
# on every device, emoji font or not.
ICON_ALIASES = {
    "star": ("star", "★", "⭐"),
    "medal": ("medal", "🌟", "🏅", "🥇", "🥈", "🥉", "🎖", "🎖️"),
    "flame": ("flame", "fire", "streak", "🔥"),
    "snowflake": ("snowflake", "freeze", "❄", "❄️"),
    "book": ("book", "books", "lesson", "📘", "📚", "📖"),
    "bulb": ("bulb", "lightbulb", "idea", "telescope", "💡", "🔭"),
    "cap": ("cap", "graduation", "graduation-cap", "mortarboard", "🎓"),
    "puzzle": ("puzzle", "skills", "🧩"),
    "trophy": ("trophy", "cup", "🏆", "🏛", "🏛️"),
    "crown": ("crown", "👑"),
    "calendar": ("calendar", "📅", "📆", "🗓", "🗓️"),
    "rocket": ("rocket", "🚀"),
    "gem": ("gem", "diamond", "💎"),
    "flag": ("flag", "footsteps", "steps", "first", "👣", "🚩", "🏁"),
    "check": ("check", "done", "✅", "✔", "✔️"),
    "bolt": ("bolt", "lightning", "strength", "⚡", "💪"),
    "target": ("target", "bullseye", "🎯"),
    "chat": ("chat", "discussion", "💬"),
}
ICONS = {alias: icon for icon, aliases in ICON_ALIASES.items() for alias in aliases}


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelStanding:
    """The learner's level and how far they are towards the next one."""

    number: int
    name: str
    threshold_xp: int
    next_number: int | None
    next_name: str | None
    next_threshold_xp: int | None
    xp_into_level: int
    xp_to_next: int | None
    percent: int  # 0-100 of the way from this level's threshold to the next; 100 at the top

    @property
    def is_top(self) -> bool:
        return self.next_number is None

    @classmethod
    def of(cls, progress: LevelProgress) -> LevelStanding:
        # Below the top a bar never shows full: 99% until the next level is really reached.
        percent = 100 if progress.is_top_level else min(99, int(100 * progress.share))
        return cls(
            number=progress.level,
            name=progress.name,
            threshold_xp=progress.threshold_xp,
            next_number=progress.next_level,
            next_name=progress.next_name,
            next_threshold_xp=progress.next_threshold_xp,
            xp_into_level=progress.xp_into_level,
            xp_to_next=progress.xp_to_next,
            percent=percent,
        )


@dataclass(frozen=True, slots=True)
class LevelStep:
    """One rung of the level ladder, as the learner stands against it."""

    number: int
    name: str
    threshold_xp: int
    reached: bool
    current: bool


@dataclass(frozen=True, slots=True)
class StreakInfo:
    """Current and longest streak, freezes held, and whether today still needs an activity."""

    current: int
    longest: int
    started_on: datetime.date | None
    last_active_date: datetime.date | None
    active_today: bool
    at_risk_today: bool
    freezes_held: int
    freezes_max: int

    @property
    def freeze_slots(self) -> tuple[bool, ...]:
        """One entry per freeze a learner may hold: True where one is held."""
        return tuple(n < self.freezes_held for n in range(self.freezes_max))

    @classmethod
    def of(cls, state: StreakState) -> StreakInfo:
        return cls(
            current=state.current,
            longest=state.longest,
            started_on=state.started_on,
            last_active_date=state.last_active_date,
            active_today=state.active_today,
            at_risk_today=state.at_risk_today,
            freezes_held=state.freezes_held,
            freezes_max=state.freezes_max,
        )


@dataclass(frozen=True, slots=True)
class AchievementInfo:
    """One achievement: unlocked (with its date) or locked (with the progress towards it)."""

    code: str
    name: str
    description: str
    icon: str
    tier: str
    tier_label: str
    rarity: str
    rarity_label: str
    holders_share: float
    criterion: str
    threshold: int
    progress: int
    xp_reward: int
    unlocked_at: datetime.datetime | None

    @property
    def unlocked(self) -> bool:
        return self.unlocked_at is not None

    @property
    def percent(self) -> int:
        if self.unlocked or not self.threshold:
            return 100
        return min(100, int(100 * self.progress / self.threshold))

    @property
    def holders_percent(self) -> float:
        return round(100 * self.holders_share, 1)

    @property
    def icon_id(self) -> str:
        """The drawn icon (in static/img/gamification-icons.svg) that `icon` names."""
        return ICONS.get(self.icon.strip().lower(), "star")

    @property
    def unit(self) -> str:
        """What the progress counts, in words ("lessons", "days", "XP")."""
        return CRITERION_UNITS.get(self.criterion, "")

    @property
    def progress_text(self) -> str:
        """The progress in words: "4 / 10 lessons", "level 3 of 5"."""
        if self.criterion == Achievement.Criterion.LEVEL_REACHED:
            return f"level {self.progress} of {self.threshold}"
        return f"{self.progress} / {self.threshold} {self.unit}".rstrip()


@dataclass(frozen=True, slots=True)
class LeagueInfo:
    """The learner's league this week: tier, place in the table, and the zone that place is in."""

    week_starts_on: datetime.date
    week_ends_on: datetime.date
    closes_at: datetime.datetime
    tier: str
    tier_label: str
    league_id: int
    position: int
    size: int
    xp: int
    zone: str  # "promotion", "demotion" or "safe"
    promote_count: int
    demote_count: int

    @classmethod
    def of(cls, standing: LeagueStanding) -> LeagueInfo:
        return cls(
            week_starts_on=standing.week_starts_on,
            week_ends_on=standing.week_ends_on,
            closes_at=standing.closes_at,
            tier=standing.tier,
            tier_label=standing.tier_label,
            league_id=standing.league_id,
            position=standing.viewer.rank,
            size=standing.size,
            xp=standing.viewer.xp,
            zone=standing.viewer.zone,
            promote_count=standing.promote_count,
            demote_count=standing.demote_count,
        )


@dataclass(frozen=True, slots=True)
class XpHistoryItem:
    """One row of the learner's XP ledger, as the history shows it.

    `label` says what paid (the action, or a staff grant or revocation); `detail` what for,
    in words: the lesson or course acted on, the reason a service or staff member gave.
    """

    id: int
    occurred_at: datetime.datetime
    local_date: datetime.date
    amount: int
    kind: str
    label: str
    detail: str
    reason: str
    reference: str


def _without_label(reason: str, label: str) -> str:
    """`reason` without a lead-in that repeats the label ("Achievement: Level 5" under
    "Achievement unlocked" reads "Level 5")."""
    head, sep, rest = reason.partition(": ")
    if sep and rest and label.lower().startswith(head.lower()):
        return rest
    return reason


def _reference_id(reference: str, prefix: str) -> int | None:
    kind, _, value = reference.partition(":")
    return int(value) if kind == prefix and value.isascii() and value.isdigit() else None


@dataclass(frozen=True, slots=True)
class LearnerHeader:
    """Who the learner is and where they stand: what every one of their pages shows on top."""

    user_id: int
    external_id: str | None
    name: str
    timezone: str
    total_xp: int
    level: LevelStanding
    ladder: tuple[LevelStep, ...]
    show_on_leaderboards: bool


@dataclass(frozen=True, slots=True)
class LearnerGamificationSummary:
    """Everything a learner's overview shows, as of `today` in their own timezone."""

    user_id: int
    external_id: str | None
    name: str
    timezone: str
    today: datetime.date
    total_xp: int
    level: LevelStanding
    ladder: tuple[LevelStep, ...]
    streak: StreakInfo
    achievements: tuple[AchievementInfo, ...]
    ranks: tuple[LeaderboardRank, ...]
    league: LeagueInfo | None
    rewards: tuple[RewardHolding, ...]
    recent_xp: tuple[XpHistoryItem, ...]
    recent_moments: tuple[MomentItem, ...]
    show_on_leaderboards: bool

    @property
    def unlocked(self) -> tuple[AchievementInfo, ...]:
        return tuple(a for a in self.achievements if a.unlocked)

    @property
    def locked(self) -> tuple[AchievementInfo, ...]:
        return tuple(a for a in self.achievements if not a.unlocked)

    @property
    def unlocked_newest_first(self) -> tuple[AchievementInfo, ...]:
        return newest_first(self.achievements)

    @property
    def next_achievements(self) -> tuple[AchievementInfo, ...]:
        """The three locked achievements the learner is closest to."""
        return closest_first(self.achievements)[:3]

    @property
    def other_rewards(self) -> tuple[RewardHolding, ...]:
        """Rewards held besides streak freezes (which the streak shows): codes, early access."""
        return tuple(r for r in self.rewards if r.kind != "streak_freeze")

    @property
    def unseen_moments(self) -> tuple[MomentItem, ...]:
        return tuple(m for m in self.recent_moments if not m.seen)

    @property
    def notices(self) -> tuple[MomentItem, ...]:
        """The newest unseen moments, as many as the overview shows as notices."""
        return self.unseen_moments[:NOTICES]

    @property
    def more_notices(self) -> int:
        return len(self.unseen_moments) - len(self.notices)

    @property
    def ranks_by_period(self) -> dict[str, LeaderboardRank]:
        return {rank.period: rank for rank in self.ranks}

    @property
    def weekly_rank(self) -> LeaderboardRank | None:
        return self.ranks_by_period.get("weekly")


def newest_first(achievements: Iterable[AchievementInfo]) -> tuple[AchievementInfo, ...]:
    """The unlocked ones among `achievements`, latest unlock first."""
    unlocked = [a for a in achievements if a.unlocked_at is not None]
    return tuple(sorted(unlocked, key=lambda a: a.unlocked_at, reverse=True))  # type: ignore[arg-type,return-value]


def closest_first(achievements: Iterable[AchievementInfo]) -> tuple[AchievementInfo, ...]:
    """The locked ones among `achievements`, the nearest to unlocking first."""
    locked = [a for a in achievements if not a.unlocked]
    return tuple(sorted(locked, key=lambda a: (-a.percent, a.threshold, a.name)))


# --- the parts ----------------------------------------------------------------------------


def learner_header(*, user_id: int) -> LearnerHeader:
    """The learner's name, timezone, XP, level with progress and the level ladder (two queries:
    the user with their profile, and the levels)."""
    user = User.objects.select_related("game_profile").get(pk=user_id)
    try:
        profile: LearnerGameProfile | None = user.game_profile
    except LearnerGameProfile.DoesNotExist:
        profile = None
    total_xp = profile.total_xp if profile else 0
    table = level_table()
    level = LevelStanding.of(level_progress(total_xp, table=table))
    return LearnerHeader(
        user_id=user.pk,
        external_id=user.external_id,
        name=user.get_full_name() or user.email,
        timezone=user.timezone,
        total_xp=total_xp,
        level=level,
        ladder=_ladder(table, level.number),
        show_on_leaderboards=profile.show_on_leaderboards if profile else True,
    )


def _ladder(table: Iterable[LevelInfo], current: int) -> tuple[LevelStep, ...]:
    return tuple(
        LevelStep(
            number=info.number,
            name=info.name,
            threshold_xp=info.threshold_xp,
            reached=info.number <= current,
            current=info.number == current,
        )
        for info in table
    )


def learner_achievements(*, user_id: int) -> tuple[AchievementInfo, ...]:
    """Every active achievement (and any unlocked since switched off) with the learner's
    unlock date or progress, in display order (what `achievement_progress` states for its
    queries: the achievements, the unlocks, one per source of values)."""
    tiers = dict(Achievement.Tier.choices)
    rarities = dict(Achievement.Rarity.choices)
    return tuple(
        AchievementInfo(
            code=item.code,
            name=item.name,
            description=item.description,
            icon=item.icon,
            tier=item.tier,
            tier_label=tiers.get(item.tier, item.tier),
            rarity=item.rarity,
            rarity_label=rarities.get(item.rarity, item.rarity),
            holders_share=item.holders_share,
            criterion=item.criterion,
            threshold=item.threshold,
            progress=min(item.current, item.threshold),
            xp_reward=item.xp_reward,
            unlocked_at=item.unlocked_at,
        )
        for item in achievement_progress(user_id)
    )


def xp_history(*, user_id: int) -> QuerySet[XpTransaction]:
    """The learner's XP ledger, newest first, with each row's action (for a Paginator)."""
    return xp_ledger_list(user_id=user_id)


def xp_history_items(rows: Iterable[XpTransaction]) -> list[XpHistoryItem]:
    """Turn ledger rows (a page of `xp_history`) into records, naming the lessons and courses
    they were earned on (a query for each kind of object named, whatever the number of rows).

    An event's award names what it was earned on; an award paid by a service (an
    achievement, a milestone, a promotion) and a staff change carry their written reason.
    """
    rows = list(rows)
    wanted: dict[str, set[int]] = {"lesson": set(), "course": set()}
    for row in rows:
        for prefix, ids in wanted.items():
            pk = _reference_id(row.reference, prefix)
            if pk is not None:
                ids.add(pk)
    titles: dict[tuple[str, int], str] = {}
    if wanted["lesson"]:
        lessons = Lesson.objects.filter(pk__in=wanted["lesson"]).values_list("pk", "title")
        titles.update((("lesson", pk), title) for pk, title in lessons)
    if wanted["course"]:
        courses = Course.objects.filter(pk__in=wanted["course"]).values_list("pk", "title")
        titles.update((("course", pk), title) for pk, title in courses)
    items = []
    for row in rows:
        action = row.action
        if action is not None and action.event_types:
            kind = row.reference.partition(":")[0]
            pk = _reference_id(row.reference, kind)
            detail = titles.get((kind, pk), "") if pk is not None else ""
        else:
            detail = _without_label(row.reason, action.name if action is not None else "")
        items.append(
            XpHistoryItem(
                id=row.pk,
                occurred_at=row.occurred_at,
                local_date=row.local_date,
                amount=row.amount,
                kind=row.kind,
                label=action.name if action is not None else row.get_kind_display(),
                detail=detail,
                reason=row.reason,
                reference=row.reference,
            )
        )
    return items


def learner_course_choices(*, user_id: int) -> list[tuple[int, str]]:
    """(id, title) of the courses the learner is enrolled in, by title (one query)."""
    return list(
        Course.objects.filter(enrollments__user_id=user_id)
        .order_by("title", "id")
        .values_list("id", "title")
    )


def learner_leaderboard(
    *, user_id: int, period: str, course_id: int | None = None, limit: int = BOARD_TOP
) -> LeaderboardPage:
    """The top `limit` of one board with the learner's row marked, and their neighbours only
    when they rank below the top (what `leaderboard_page` states for its queries)."""
    page = leaderboard_page(period=period, course_id=course_id, limit=limit, around_user_id=user_id)
    shown = {row.rank for row in page.top}
    around = tuple(row for row in page.around if row.rank not in shown)
    if page.viewer is not None and page.viewer.rank in shown:
        around = ()
    return dataclasses.replace(page, around=around)


# --- the streak heat-map ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One cell of the streak heat-map."""

    date: datetime.date
    status: str  # "active", "frozen", "none" or "future"
    count: int

    @property
    def intensity(self) -> int:
        """0-4: how busy the day was, for the heat-map's shades."""
        if self.status != "active":
            return 0
        return 1 if self.count <= 2 else 2 if self.count <= 5 else 3 if self.count <= 10 else 4

    @property
    def text(self) -> str:
        when = f"{self.date:%a} {self.date.day} {self.date:%b %Y}"
        if self.status == "active":
            return f"{when}: active ({self.count} activit{'y' if self.count == 1 else 'ies'})"
        if self.status == "frozen":
            return f"{when}: covered by a streak freeze"
        if self.status == "future":
            return f"{when}: still to come"
        return f"{when}: no activity"


@dataclass(frozen=True, slots=True)
class StreakCalendar:
    """The last weeks of a learner's streak as columns of Monday-to-Sunday days."""

    weeks: tuple[tuple[CalendarDay, ...], ...]
    today: datetime.date

    @property
    def days(self) -> tuple[CalendarDay, ...]:
        return tuple(day for week in self.weeks for day in week)

    @property
    def active_days(self) -> int:
        return sum(1 for day in self.days if day.status == "active")

    @property
    def frozen_days(self) -> int:
        return sum(1 for day in self.days if day.status == "frozen")

    @property
    def past_days(self) -> int:
        return sum(1 for day in self.days if day.status != "future")

    @property
    def first(self) -> datetime.date:
        return self.weeks[0][0].date

    @property
    def marked_days(self) -> tuple[CalendarDay, ...]:
        """Days with activity or a freeze, newest first: the heat-map's text alternative."""
        return tuple(d for d in reversed(self.days) if d.status in ("active", "frozen"))

    @property
    def month_labels(self) -> tuple[str, ...]:
        """Per week column, the month's short name where a month starts, else ''."""
        labels = []
        previous = None
        for week in self.weeks:
            month = week[0].date.month
            labels.append(f"{week[0].date:%b}" if month != previous else "")
            previous = month
        return tuple(labels)


def streak_calendar(
    *, user_id: int, today: datetime.date, weeks: int = CALENDAR_WEEKS
) -> StreakCalendar:
    """The learner's streak days of the last `weeks` weeks up to `today` (one query).

    Columns run Monday to Sunday, the last one holding `today` (its later days are "future").
    """
    last_monday = today - datetime.timedelta(days=today.weekday())
    first = last_monday - datetime.timedelta(weeks=weeks - 1)
    rows = (
        streak_day_list(user_id=user_id)
        .filter(date__gte=first, date__lte=today)
        .values_list("date", "status", "activity_count")
    )
    marked = {day: (status, count) for day, status, count in rows}
    columns = []
    for week in range(weeks):
        column = []
        for weekday in range(7):
            day = first + datetime.timedelta(days=7 * week + weekday)
            if day > today:
                column.append(CalendarDay(day, "future", 0))
                continue
            status, count = marked.get(day, ("none", 0))
            column.append(CalendarDay(day, status, count))
        columns.append(tuple(column))
    return StreakCalendar(weeks=tuple(columns), today=today)


# --- the summary --------------------------------------------------------------------------


def learner_gamification_summary(
    *, user_id: int, now: datetime.datetime | None = None
) -> LearnerGamificationSummary:
    """Everything the learner's overview and the read API show, as of `now` in their timezone.

    A learner with no activity yet gets the starting state (level 1, no streak, no rank).
    Queries, whatever the learner's history: the header's two, the achievements' three, the
    recent XP and moments one each, and what the streak, rewards, leaderboard and league
    selectors state for theirs (the leaderboards none when Redis holds them), the last two
    given the learner's today so that they do not read the timezone the header has read.
    """
    now = now or timezone.now()
    header = learner_header(user_id=user_id)
    today = local_date(now, header.timezone)
    standing = league_standing(user_id=user_id, on=today)
    return LearnerGamificationSummary(
        user_id=header.user_id,
        external_id=header.external_id,
        name=header.name,
        timezone=header.timezone,
        today=today,
        total_xp=header.total_xp,
        level=header.level,
        ladder=header.ladder,
        streak=StreakInfo.of(streak_state(user_id=user_id, now=now)),
        achievements=learner_achievements(user_id=user_id),
        ranks=leaderboard_ranks(user_id=user_id, on=today),
        league=LeagueInfo.of(standing) if standing is not None else None,
        rewards=tuple(reward_inventory(user_id)),
        recent_xp=tuple(xp_history_items(xp_history(user_id=user_id)[:RECENT_XP])),
        recent_moments=tuple(moment_list(user_id=user_id, limit=RECENT_MOMENTS)),
        show_on_leaderboards=header.show_on_leaderboards,
    )


# --- for many learners at once (messages) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearnerStanding:
    """A learner's XP, level and nearest achievement, as a message speaks of them."""

    total_xp: int
    level: LevelStanding
    next_achievement: str  # the locked achievement nearest to unlocking ("" when none)
    achievement_percent: int


def learner_standings(*, user_ids: Iterable[int]) -> dict[int, LearnerStanding]:
    """XP, level and nearest locked achievement of each learner, in a fixed number of queries
    whatever their number (profiles, levels, achievements, unlocks, one per value source)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    totals = dict(
        LearnerGameProfile.objects.filter(user_id__in=ids).values_list("user_id", "total_xp")
    )
    table = level_table()
    achievements = list(Achievement.objects.filter(is_active=True))
    held: dict[int, set[int]] = defaultdict(set)
    for user_id, achievement_id in AchievementUnlock.objects.filter(user_id__in=ids).values_list(
        "user_id", "achievement_id"
    ):
        held[user_id].add(achievement_id)
    values = achievement_values(user_ids=ids, achievements=achievements)
    out = {}
    for user_id in ids:
        mine = values.get(user_id, {})
        locked = [
            (min(99, int(100 * mine.get(a.pk, 0) / a.threshold)) if a.threshold else 0, a)
            for a in achievements
            if a.pk not in held[user_id]
        ]
        locked.sort(key=lambda pair: (-pair[0], pair[1].threshold, pair[1].name))
        total = totals.get(user_id, 0)
        out[user_id] = LearnerStanding(
            total_xp=total,
            level=LevelStanding.of(level_progress(total, table=table)),
            next_achievement=locked[0][1].name if locked else "",
            achievement_percent=locked[0][0] if locked else 0,
        )
    return out
