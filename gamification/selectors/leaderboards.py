"""Leaderboards: daily, weekly, monthly and all-time XP rankings, global and per course.

What a board is
    A board sums the XP ledger's amounts (revocations count negative) per learner over a
    period, keyed by the ledger's ``local_date``, the day each row fell on in the learner's
    own timezone. The daily board of 3 March holds, for every learner, the XP of *their*
    3 March; weeks run Monday to Sunday, months are calendar months, all-time has no bounds.
    So "today" for each learner is their own day, and a row never moves between periods
    when a learner later changes timezone. A learner is on a board when at least one ledger
    row of theirs falls in it; a course board counts only the rows booked to that course.

Which period a page shows
    The one containing ``on``; by default the viewer's local today when there is a viewer
    (``around_user_id``), else today in UTC. The answer names the period's first and last day.

Order and ties
    Most XP first; equal XP goes to the lower user id (the earlier account), so every learner
    has a distinct rank that is the same on both backends, after any replay or rebuild, and
    whatever order the ledger rows arrived in. ("Who reached it first" would need the time of
    the last row folded into the score, which a double cannot hold beside large totals.)

Two backends behind this one interface
    * Redis sorted sets when ``settings.REDIS_URL`` is set and the boards have been built:
      one ZSET per board (period, its first day, course or global) whose score is *minus*
      the XP and whose members are user ids zero-padded to 19 digits. Redis orders a ZSET
      by ascending score and equal scores by ascending member bytes, so ZRANGE / ZRANK give
      exactly "most XP first, then lower user id" with no float tricks, and a page is
      O(log N). The services keep the sets up
      to date (gamification.services.leaderboards) and let old periods expire. A period
      older than its retention is answered from the database, and so is every board while
      Redis is unreachable or holds none (never built, or its data lost; the beat task
      `gamification.ensure_leaderboards` then builds them from the ledger).
    * The database otherwise: an aggregation of the ledger per request, bounded for periods
      by the indexed ``occurred_at`` (a local date lies within -14 h / +12 h of its UTC day;
      ``core.localtime.utc_bounds_of_local_dates``) and filtered exactly on ``local_date``.

Privacy
    A learner whose profile has ``show_on_leaderboards`` off is still ranked, but shown to
    everyone else as "a learner" with neither id nor external id; they see themselves.

Key layout (Redis; standalone server, not Redis Cluster: the scripts build key names)
    ``<prefix>:gen`` the live generation G, switched by a rebuild (absent: nothing built;
    rows are counted into generation 0 meanwhile, but pages read the ledger);
    ``<prefix>:g<G>:b:<period>:<first day|all>:<course id|->`` a board;
    ``<prefix>:g<G>:applied:<ledger id >> 20>`` bitmaps of the ledger ids already counted.
    ``<prefix>`` is the cache's KEY_PREFIX + ":lb" (``STRIDE_LEADERBOARD_KEY_PREFIX`` overrides).
"""

from __future__ import annotations

import calendar
import datetime
import functools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import connections
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from core.localtime import local_date, utc_bounds_of_local_dates
from gamification.models import XpTransaction
from learning.models import Course

logger = logging.getLogger(__name__)

DAILY, WEEKLY, MONTHLY, ALL_TIME = "daily", "weekly", "monthly", "all_time"
PERIODS: tuple[str, ...] = (DAILY, WEEKLY, MONTHLY, ALL_TIME)
PERIOD_LABELS = {DAILY: "Daily", WEEKLY: "Weekly", MONTHLY: "Monthly", ALL_TIME: "All time"}
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
NEIGHBOURS = 2  # rows shown either side of the viewer ("rank around me")
HIDDEN_NAME = "a learner"

# How long a period's Redis set outlives the period, for late events and "last week" pages.
# Older periods are answered from the ledger. All-time never expires.
RETENTION = {
    DAILY: datetime.timedelta(days=7),
    WEEKLY: datetime.timedelta(days=35),
    MONTHLY: datetime.timedelta(days=93),
}
# The last instant any timezone (UTC-12) is still on a given local date is 12:00 UTC the day
# after: a period's set must live at least until then, plus its retention.
_LAST_ZONE_OFFSET = datetime.timedelta(hours=12)
MEMBER_DIGITS = 19  # any BigAutoField id; fixed width so that byte order is numeric order


# --- periods -----------------------------------------------------------------------------------


def period_bounds(
    period: str, day: datetime.date
) -> tuple[datetime.date | None, datetime.date | None]:
    """Return the first and last day of the period containing `day` (None, None for all-time)."""
    if period == DAILY:
        return day, day
    if period == WEEKLY:
        start = day - datetime.timedelta(days=day.weekday())
        return start, _days_after(start, 6)
    if period == MONTHLY:
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if period == ALL_TIME:
        return None, None
    raise ValueError(f"unknown leaderboard period {period!r}")


def _days_after(day: datetime.date, days: int) -> datetime.date:
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return datetime.date.max


@dataclass(frozen=True, slots=True)
class Board:
    """One leaderboard: a period (by its first day; None for all-time) and a course or all."""

    period: str
    starts_on: datetime.date | None
    course_id: int | None = None

    @classmethod
    def containing(cls, period: str, day: datetime.date, course_id: int | None = None) -> Board:
        """The board of `period` whose period contains local date `day`."""
        return cls(period, period_bounds(period, day)[0], course_id)

    @property
    def ends_on(self) -> datetime.date | None:
        if self.starts_on is None:
            return None
        return period_bounds(self.period, self.starts_on)[1]

    @property
    def suffix(self) -> str:
        """The board's part of its Redis key."""
        start = self.starts_on.isoformat() if self.starts_on else "all"
        return f"b:{self.period}:{start}:{self.course_id if self.course_id else '-'}"

    @property
    def expires_at(self) -> datetime.datetime | None:
        """When its Redis set may go (None: never), a retention after any zone left the period."""
        if self.ends_on is None:
            return None
        try:
            last = datetime.datetime.combine(
                self.ends_on + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
            )
            return last + _LAST_ZONE_OFFSET + RETENTION[self.period]
        except OverflowError:  # the end of the calendar
            return datetime.datetime.max.replace(tzinfo=datetime.UTC)


def boards_of_entry(*, local_day: datetime.date, course_id: int | None) -> list[Board]:
    """Every board one ledger row counts on: each period, globally and for its course."""
    boards = [Board.containing(period, local_day) for period in PERIODS]
    if course_id:
        boards += [Board.containing(period, local_day, course_id) for period in PERIODS]
    return boards


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One learner's line on a board, as the viewer may see it.

    For a learner who opted out (and is not the viewer) `user_id` and `external_id` are None
    and `name` is "a learner": the row still holds its rank and XP.
    """

    rank: int
    xp: int
    user_id: int | None
    external_id: str | None
    name: str
    hidden: bool
    is_viewer: bool


@dataclass(frozen=True, slots=True)
class LeaderboardPage:
    """The top of a board, and the viewer's own row with their neighbours (wherever they are).

    `viewer` is None when there is no viewer or the viewer has no XP on this board; `around`
    is then empty, else it holds up to NEIGHBOURS rows either side of the viewer and theirs.
    """

    period: str
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    course_id: int | None
    total: int
    top: tuple[LeaderboardRow, ...]
    viewer: LeaderboardRow | None
    around: tuple[LeaderboardRow, ...]


@dataclass(frozen=True, slots=True)
class LeaderboardRank:
    """A learner's place on one board: rank None when they have no XP on it."""

    period: str
    starts_on: datetime.date | None
    rank: int | None
    xp: int
    total: int


@dataclass(frozen=True, slots=True)
class _Ranked:
    """What a backend answers for a board: ranked (user id, xp) pairs, before names."""

    total: int
    top: list[tuple[int, int, int]]  # (rank, user_id, xp)
    viewer_rank: int | None
    around: list[tuple[int, int, int]]


# --- Redis -------------------------------------------------------------------------------------


def key_prefix() -> str:
    """The prefix of every leaderboard key: the cache's KEY_PREFIX + ":lb" unless set."""
    explicit = getattr(settings, "STRIDE_LEADERBOARD_KEY_PREFIX", "")
    if explicit:
        return explicit
    cache_prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX") or "stride"
    return f"{cache_prefix}:lb"


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Short timeouts: a page falls back to the database rather than hang on a lost server.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis | None:
    """The Redis that holds the boards, or None when the database is the backend."""
    url = getattr(settings, "REDIS_URL", "")
    return _client(url) if url else None


def member(user_id: int) -> str:
    """A user's member name in a board's set (fixed width, so byte order = id order)."""
    return f"{user_id:0{MEMBER_DIGITS}d}"


def in_redis(board: Board, *, now: datetime.datetime | None = None) -> bool:
    """Whether Redis holds `board` (it is the backend, and the board has not expired)."""
    if redis_client() is None:
        return False
    expires = board.expires_at
    return expires is None or expires > (now or timezone.now())


class NotBuilt(redis.RedisError):
    """Redis holds no built boards (never rebuilt, or its data was lost): read the ledger."""


# One round trip per page: the live generation, the board's size, its top and the viewer's
# neighbourhood, all read at one instant. The rows come back as one string each ("member
# score member score ..."): a hundred separate replies cost more to parse than the lookup.
_READ_SCRIPT = """
local gen = redis.call('GET', ARGV[1] .. ':gen')
if not gen then return false end
local key = ARGV[1] .. ':g' .. gen .. ':' .. ARGV[2]
local limit = tonumber(ARGV[3])
local total = redis.call('ZCARD', key)
local top = {}
if limit > 0 then top = redis.call('ZRANGE', key, 0, limit - 1, 'WITHSCORES') end
local rank = -1
local lo = 0
local around = {}
if ARGV[4] ~= '' then
  local r = redis.call('ZRANK', key, ARGV[4])
  if r then
    rank = r
    lo = math.max(0, r - tonumber(ARGV[5]))
    around = redis.call('ZRANGE', key, lo, r + tonumber(ARGV[5]), 'WITHSCORES')
  end
end
return {total, rank, lo, table.concat(top, ' '), table.concat(around, ' ')}
"""

_POINTS_SCRIPT = """
local gen = redis.call('GET', ARGV[1] .. ':gen')
if not gen then return false end
local key = ARGV[1] .. ':g' .. gen .. ':' .. ARGV[2]
return redis.call('ZMSCORE', key, unpack(ARGV, 3))
"""


@functools.lru_cache(maxsize=4)
def _scripts(client: redis.Redis) -> tuple[Any, Any]:
    return client.register_script(_READ_SCRIPT), client.register_script(_POINTS_SCRIPT)


def _pairs(packed: bytes, first_rank: int) -> list[tuple[int, int, int]]:
    """Joined ZRANGE WITHSCORES output ("member -xp member -xp ...") -> [(rank, uid, xp)]."""
    flat = packed.split()
    return [
        (first_rank + i, int(flat[2 * i]), -int(float(flat[2 * i + 1])))
        for i in range(len(flat) // 2)
    ]


def _redis_ranked(board: Board, *, limit: int, viewer_id: int | None, neighbours: int) -> _Ranked:
    client = redis_client()
    assert client is not None
    read, _ = _scripts(client)
    answer = read(
        args=[
            key_prefix(),
            board.suffix,
            limit,
            member(viewer_id) if viewer_id else "",
            neighbours,
        ]
    )
    if answer is None:
        raise NotBuilt
    total, rank, lo, top, around = answer
    rank = int(rank)
    return _Ranked(
        total=int(total),
        top=_pairs(top, 1),
        viewer_rank=rank + 1 if rank >= 0 else None,
        around=_pairs(around, int(lo) + 1) if rank >= 0 else [],
    )


# --- the database ------------------------------------------------------------------------------


def board_ledger_rows(board: Board) -> QuerySet[XpTransaction]:
    """The ledger rows that count on `board` (a query, not yet run)."""
    rows = XpTransaction.objects.all()
    if board.starts_on is not None:
        ends_on = board.ends_on
        assert ends_on is not None
        rows = rows.filter(local_date__gte=board.starts_on, local_date__lte=ends_on)
        try:
            lo, hi = utc_bounds_of_local_dates(board.starts_on, ends_on)
        except OverflowError:  # a period at the ends of the calendar: no index bound then
            pass
        else:
            rows = rows.filter(occurred_at__gte=lo, occurred_at__lt=hi)
    if board.course_id:
        rows = rows.filter(course_id=board.course_id)
    return rows


def _board_query(rows: QuerySet[XpTransaction]) -> QuerySet[Any]:
    return rows.values("user_id").annotate(xp=Sum("amount")).order_by()


# One statement for a whole page: the board aggregated once, numbered once (ties to the lower
# user id), and the rows of the top and of the viewer's neighbourhood picked from it; the
# one-row count on the left keeps the board's size in the answer when no row is picked.
_RANKED_SQL = """
WITH board AS ({board}),
ranked AS (
    SELECT user_id, xp, ROW_NUMBER() OVER (ORDER BY xp DESC, user_id ASC) AS position
    FROM board
),
viewer AS (SELECT position FROM ranked WHERE user_id = %s)
SELECT counted.total, ranked.position, ranked.user_id, ranked.xp
FROM (SELECT COUNT(*) AS total FROM board) AS counted
LEFT JOIN ranked
    ON ranked.position <= %s
    OR ranked.position BETWEEN (SELECT position FROM viewer) - %s
                           AND (SELECT position FROM viewer) + %s
ORDER BY ranked.position
"""


def _database_ranked(
    board: Board, *, limit: int, viewer_id: int | None, neighbours: int
) -> _Ranked:
    per_user = _board_query(board_ledger_rows(board))
    board_sql, board_params = per_user.query.get_compiler(using=per_user.db).as_sql()
    with connections[per_user.db].cursor() as cursor:
        cursor.execute(
            _RANKED_SQL.format(board=board_sql),
            [*board_params, viewer_id or 0, limit, neighbours, neighbours],
        )
        rows = cursor.fetchall()
    total = int(rows[0][0]) if rows else 0
    picked = [(int(rank), uid, int(xp)) for _, rank, uid, xp in rows if rank is not None]
    viewer_rank = next((rank for rank, uid, _ in picked if uid == viewer_id), None)
    top = [row for row in picked if row[0] <= limit]
    around: list[tuple[int, int, int]] = []
    if viewer_rank is not None:
        around = [row for row in picked if abs(row[0] - viewer_rank) <= neighbours]
    return _Ranked(total=total, top=top, viewer_rank=viewer_rank, around=around)


_last_not_built_warning = 0.0


def _warn_not_built() -> None:
    global _last_not_built_warning
    if time.monotonic() - _last_not_built_warning > 600:  # once in ten minutes, not per page
        _last_not_built_warning = time.monotonic()
        logger.warning(
            "Redis holds no leaderboards (never built, or its data was lost): answering from "
            "the ledger until `manage.py rebuild_leaderboards` (or its beat task) has run"
        )


def _ranked(board: Board, *, limit: int, viewer_id: int | None, neighbours: int) -> _Ranked:
    if in_redis(board):
        try:
            return _redis_ranked(board, limit=limit, viewer_id=viewer_id, neighbours=neighbours)
        except NotBuilt:
            _warn_not_built()
        except redis.RedisError:
            # The ledger is the truth: a slower answer beats none while Redis is away.
            logger.warning("leaderboard read from Redis failed; answering from the ledger")
    return _database_ranked(board, limit=limit, viewer_id=viewer_id, neighbours=neighbours)


# --- names -------------------------------------------------------------------------------------


def display_name(user_id: int, first_name: str, last_name: str) -> str:
    """How a learner appears to others: first name and last initial ("Ada L."); "Learner #7"
    for one whose name was never synced. Never the email address."""
    first, last = first_name.strip(), last_name.strip()
    if not first:
        return f"{last[:1]}." if last else f"Learner #{user_id}"
    return f"{first} {last[:1]}." if last else first


Identity = tuple[int | None, str | None, str, bool, bool]
"""How a row names its learner: (user id, external id, name, hidden, is the viewer)."""


def shown_as(
    user_id: int, external_id: str | None, name: str, shown: bool, viewer_id: int | None
) -> Identity:
    """How a learner appears to the viewer on a board or in a league table.

    One who opted out (`shown` false) is "a learner" with neither id to everyone but
    themselves; the viewer always sees their own name (marked hidden if they opted out).
    """
    is_viewer = user_id == viewer_id
    if shown or is_viewer:
        return user_id, external_id, name, not shown, is_viewer
    return None, None, HIDDEN_NAME, True, False


def _people(user_ids: Iterable[int]) -> dict[int, tuple[str | None, str, bool]]:
    """user id -> (external id, display name, shown on leaderboards), in one query."""
    rows = User.objects.filter(pk__in=set(user_ids)).values_list(
        "pk", "external_id", "first_name", "last_name", "game_profile__show_on_leaderboards"
    )
    return {
        pk: (external_id, display_name(pk, first, last), shown is not False)
        for pk, external_id, first, last, shown in rows
    }


def _row(
    rank: int,
    user_id: int,
    xp: int,
    people: dict[int, tuple[str | None, str, bool]],
    viewer_id: int | None,
) -> LeaderboardRow:
    external_id, name, shown = people.get(user_id, (None, HIDDEN_NAME, False))
    return LeaderboardRow(rank, xp, *shown_as(user_id, external_id, name, shown, viewer_id))


# --- selectors ---------------------------------------------------------------------------------


def course_id_by_external_id(*, external_id: str) -> int | None:
    """The pk of the course with this external id, or None (one query)."""
    return Course.objects.filter(external_id=external_id).values_list("pk", flat=True).first()


def viewer_today(*, user_id: int | None, now: datetime.datetime | None = None) -> datetime.date:
    """Today in the viewer's timezone (UTC without a viewer, or for one who is gone)."""
    now = now or timezone.now()
    tz_name = "UTC"
    if user_id is not None:
        tz_name = User.objects.filter(pk=user_id).values_list("timezone", flat=True).first()
        tz_name = tz_name or "UTC"
    return local_date(now, tz_name)


def leaderboard_page(
    *,
    period: str,
    course_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
    around_user_id: int | None = None,
    on: datetime.date | None = None,
    neighbours: int = NEIGHBOURS,
) -> LeaderboardPage:
    """Return the top `limit` learners of a board and the viewer's rank with neighbours.

    `period` is daily, weekly, monthly or all_time; the period is the one containing `on`
    (default: the viewer's local today, else UTC today). `around_user_id` is the viewer: their
    own row and up to `neighbours` either side, however far below the top they are.
    Queries: the names (one), the viewer's timezone when `on` is not given (one), and the
    ranking: one Redis round trip, or one statement over the ledger (database backend).
    """
    if period not in PERIODS:
        raise ValueError(f"unknown leaderboard period {period!r}")
    limit = max(0, min(int(limit), MAX_LIMIT))
    if on is None:
        on = viewer_today(user_id=around_user_id)
    board = Board.containing(period, on, course_id)
    ranked = _ranked(board, limit=limit, viewer_id=around_user_id, neighbours=neighbours)
    people = _people(uid for _, uid, _ in [*ranked.top, *ranked.around])
    top = tuple(_row(*item, people, around_user_id) for item in ranked.top)
    around = tuple(_row(*item, people, around_user_id) for item in ranked.around)
    viewer = next((row for row in around if row.is_viewer), None)
    return LeaderboardPage(
        period=period,
        starts_on=board.starts_on,
        ends_on=board.ends_on,
        course_id=course_id,
        total=ranked.total,
        top=top,
        viewer=viewer,
        around=around,
    )


def leaderboard_ranks(
    *,
    user_id: int,
    course_id: int | None = None,
    now: datetime.datetime | None = None,
    on: datetime.date | None = None,
) -> tuple[LeaderboardRank, ...]:
    """Return the learner's rank, XP and board size on each period's board of the day `on`
    (default: their local today).

    Queries: one for the timezone (without `on`), then per period one Redis round trip or one
    statement.
    """
    today = on if on is not None else viewer_today(user_id=user_id, now=now)
    ranks = []
    for period in PERIODS:
        board = Board.containing(period, today, course_id)
        ranked = _ranked(board, limit=0, viewer_id=user_id, neighbours=0)
        xp = next((xp for _, uid, xp in ranked.around if uid == user_id), 0)
        ranks.append(LeaderboardRank(period, board.starts_on, ranked.viewer_rank, xp, ranked.total))
    return tuple(ranks)


def week_points(*, week_starts_on: datetime.date, user_ids: Sequence[int]) -> dict[int, int]:
    """Return each learner's XP of the learner-local week starting on a Monday (0 if none).

    The weekly global board's numbers: one Redis round trip, or one aggregation of the ledger.
    These are the league points of gamification.services.leagues.
    """
    if not user_ids:
        return {}
    board = Board(WEEKLY, week_starts_on)
    if in_redis(board):
        client = redis_client()
        assert client is not None
        try:
            _, points = _scripts(client)
            scores = points(args=[key_prefix(), board.suffix, *map(member, user_ids)])
            if scores is None:
                raise NotBuilt
            return {
                uid: -int(float(score)) if score is not None else 0
                for uid, score in zip(user_ids, scores, strict=True)
            }
        except NotBuilt:
            _warn_not_built()
        except redis.RedisError:
            logger.warning("league points read from Redis failed; summing the ledger")
    return week_points_from_ledger(week_starts_on=week_starts_on, user_ids=user_ids)


def week_points_from_ledger(
    *, week_starts_on: datetime.date, user_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """Each learner's XP of a learner-local week summed from the ledger (one query).

    With `user_ids` None, every learner with a ledger row in the week.
    """
    rows = board_ledger_rows(Board(WEEKLY, week_starts_on))
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    points = {uid: 0 for uid in user_ids or ()}
    for row in _board_query(rows):
        points[row["user_id"]] = int(row["xp"])
    return points
