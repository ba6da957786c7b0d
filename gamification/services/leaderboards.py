"""Keeping the leaderboards: new ledger rows counted once, and a rebuild from the ledger.

The boards themselves (periods, order, ties, backends, key layout) are described in
gamification.selectors.leaderboards. With the database backend the ledger *is* the board, so
there is nothing to keep; with Redis:

Counting each ledger row exactly once
    `leaderboards_record` is called after the commit that stored new ledger rows (9b's
    XP services; transaction.on_commit). One Lua script per batch, atomic in Redis, does
    for each row: SETBIT on the generation's "applied" bitmap at the row's id; only if the
    bit was 0, ZINCRBY the row's amount on each of its boards (daily, weekly, monthly,
    all-time; global and its course) and EXPIREAT each period board. A redelivered or
    repeated call therefore changes nothing, in any order and from any number of workers.
    The bitmaps cost one bit per ledger id (12.5 MB per 100 million rows) and never expire,
    so a replay however late is still recognised.

Rebuilding from the ledger (`leaderboards_rebuild`, `manage.py rebuild_leaderboards`)
    Reads the ledger once, in one statement (one snapshot), summing every board still within
    its retention and marking each row read in fresh bitmaps; writes all of it under a new
    generation while the live one keeps serving and counting; then switches ``<prefix>:gen``
    to it in one command. Rows committed during the read were counted live in the *old*
    generation only, so after the switch every row created since the read began (less a
    margin for transactions still open then) is recorded again through the same script:
    the new bitmaps skip those the snapshot had, and count the rest. Old generations are
    then deleted. A Redis lock keeps to one rebuild at a time.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from core.errors import DomainValidationError
from core.statement_timeout import statement_timeout_for_jobs
from gamification.models import XpTransaction
from gamification.selectors.leaderboards import (
    Board,
    boards_of_entry,
    key_prefix,
    member,
    redis_client,
)
from gamification.services.leagues import leagues_record

logger = logging.getLogger(__name__)

BITMAP_CHUNK_BITS = 20  # 2**20 ledger ids (128 KB) per bitmap key
RECORD_BATCH = 1000  # ledger rows per script call: each holds Redis for a few milliseconds
WRITE_BATCH = 10_000  # members per bulk-load call while rebuilding
PROGRESS_EVERY = 100_000
# Rows created this long before a rebuild's read began may still have been uncommitted then
# (a transaction open that long): they are recorded again after the switch, as later ones are.
CATCH_UP_MARGIN = datetime.timedelta(hours=1)
REBUILD_LOCK_SECONDS = 6 * 3600

# The arguments are packed into three strings (Redis parses them in C-backed Lua patterns;
# redis-py would spend far longer packing thousands of separate arguments):
#   ARGV[1] prefix, ARGV[2] generation ('' = the live one),
#   ARGV[3] the batch's boards, one "suffix expire-at-or-0" line each (numbered from 1),
#   ARGV[4] groups of boards, one line of board numbers each (a row's day and course),
#   ARGV[5] the ledger rows, one "bitmap-chunk bit-offset member -amount group" line each.
# Increments are summed per board and member within the batch; every member of an applied
# row is incremented (by 0 too), so that Redis holds everyone the ledger has on a board.
_RECORD_SCRIPT = r"""
local prefix = ARGV[1]
local gen = ARGV[2]
if gen == '' then gen = redis.call('GET', prefix .. ':gen') or '0' end
local base = prefix .. ':g' .. gen .. ':'
local boards, expires = {}, {}
for suffix, at in string.gmatch(ARGV[3], '(%S+) (%d+)\n') do
  boards[#boards + 1] = base .. suffix
  expires[#expires + 1] = at
end
local groups = {}
for line in string.gmatch(ARGV[4], '([^\n]*)\n') do
  local members = {}
  for n in string.gmatch(line, '%d+') do members[#members + 1] = tonumber(n) end
  groups[#groups + 1] = members
end
local sums = {}
local applied = 0
for chunk, offset, m, delta, group in
    string.gmatch(ARGV[5], '(%d+) (%d+) (%d+) (%-?%d+) (%d+)\n') do
  if redis.call('SETBIT', base .. 'applied:' .. chunk, offset, 1) == 0 then
    applied = applied + 1
    for _, b in ipairs(groups[tonumber(group)]) do
      local t = sums[b]
      if not t then t = {}; sums[b] = t end
      t[m] = (t[m] or 0) + tonumber(delta)
    end
  end
end
for b, t in pairs(sums) do
  for m, d in pairs(t) do redis.call('ZINCRBY', boards[b], d, m) end
  if expires[b] ~= '0' then redis.call('EXPIREAT', boards[b], expires[b]) end
end
return applied
"""

# Bulk load of one board while rebuilding: ARGV[1] "score member" lines, ARGV[2] expire-at.
_LOAD_SCRIPT = r"""
local args = {}
for score, m in string.gmatch(ARGV[1], '(%-?%d+) (%d+)\n') do
  args[#args + 1] = score
  args[#args + 1] = m
  if #args >= 2000 then
    redis.call('ZADD', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
if ARGV[2] ~= '0' then redis.call('EXPIREAT', KEYS[1], ARGV[2]) end
return 1
"""


class LedgerEntry(Protocol):
    """What a board needs of a ledger row (core.records.XpEntryRecord has it)."""

    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def amount(self) -> int: ...
    @property
    def course_id(self) -> int | None: ...
    @property
    def local_date(self) -> datetime.date: ...


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    user_id: int
    course_id: int | None
    local_date: datetime.date
    amount: int


@dataclass(frozen=True, slots=True)
class LeaderboardRebuild:
    """What a rebuild did: backend, ledger rows read, boards written, rows caught up after."""

    backend: str
    rows: int
    boards: int
    caught_up: int
    seconds: float


def _record_args(entries: Sequence[LedgerEntry], *, now: datetime.datetime) -> list[str]:
    """The record script's boards, groups and rows strings for a batch of ledger rows."""
    board_numbers: dict[str, int] = {}
    board_lines: list[str] = []
    groups: dict[tuple[datetime.date, int | None], int] = {}
    group_lines: list[str] = []
    row_lines: list[str] = []
    mask = (1 << BITMAP_CHUNK_BITS) - 1
    for entry in entries:
        group_key = (entry.local_date, entry.course_id)
        group = groups.get(group_key)
        if group is None:
            numbers = []
            for board in boards_of_entry(local_day=entry.local_date, course_id=entry.course_id):
                expires = board.expires_at
                if expires is not None and expires <= now:
                    continue  # long gone from Redis; the ledger answers for it
                number = board_numbers.get(board.suffix)
                if number is None:
                    number = board_numbers[board.suffix] = len(board_numbers) + 1
                    at = int(expires.timestamp()) if expires else 0
                    board_lines.append(f"{board.suffix} {at}\n")
                numbers.append(str(number))
            group = groups[group_key] = len(groups) + 1
            group_lines.append(" ".join(numbers) + "\n")
        row_lines.append(
            f"{entry.id >> BITMAP_CHUNK_BITS} {entry.id & mask} {member(entry.user_id)} "
            f"{-int(entry.amount)} {group}\n"
        )
    return ["".join(board_lines), "".join(group_lines), "".join(row_lines)]


def _redis_record(
    client: redis.Redis, entries: Sequence[LedgerEntry], *, generation: str = ""
) -> int:
    script = client.register_script(_RECORD_SCRIPT)
    now = timezone.now()
    applied = 0
    for start in range(0, len(entries), RECORD_BATCH):
        batch = entries[start : start + RECORD_BATCH]
        applied += int(script(args=[key_prefix(), generation, *_record_args(batch, now=now)]))
    return applied


def leaderboards_record(*, entries: Iterable[LedgerEntry]) -> int:
    """Count newly stored ledger rows on their boards and leagues; return rows newly counted.

    Call it after the commit that stored them. Idempotent: a row already counted is skipped
    (Redis backend; the database backend reads the ledger itself and counts 0). Learners
    earning their first XP of a league week join a league (gamification.services.leagues).
    An unreachable Redis is logged, not raised: the rows are stored, and a rebuild (or a
    later replay of the same rows) counts them.
    """
    entries = list(entries)
    if not entries:
        return 0
    applied = 0
    client = redis_client()
    if client is not None:
        try:
            applied = _redis_record(client, entries)
        except redis.RedisError:
            logger.exception("leaderboards: %d ledger rows not counted in Redis", len(entries))
    leagues_record(entries=entries)
    return applied


def leaderboards_rebuild(
    *, progress: Callable[[str, int], None] | None = None
) -> LeaderboardRebuild:
    """Rebuild every board from the ledger so that it agrees with it; return what was done.

    With the database backend there is nothing to rebuild (the answer says so). With Redis,
    see this module's docstring: live pages and counting go on meanwhile, and no row is
    counted twice or lost. `progress(stage, count)` hears of the work as it goes. Raises
    DomainValidationError when another rebuild is running.
    """
    started = time.perf_counter()
    client = redis_client()
    if client is None:
        return LeaderboardRebuild(
            backend="database",
            rows=XpTransaction.objects.count(),
            boards=0,
            caught_up=0,
            seconds=time.perf_counter() - started,
        )
    prefix = key_prefix()
    lock = client.lock(f"{prefix}:rebuild-lock", timeout=REBUILD_LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise DomainValidationError("A leaderboard rebuild is already running; try again later.")
    try:
        result = _rebuild(client, prefix, progress or (lambda stage, count: None))
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            logger.warning("leaderboard rebuild outlived its lock")
    return LeaderboardRebuild(**{**result, "seconds": time.perf_counter() - started})


def leaderboards_ensure_built() -> bool:
    """Build the Redis boards from the ledger if Redis holds none; return whether it did.

    Redis holds none before the first rebuild, and after losing its data (a restart without
    persistence); pages meanwhile read the ledger. One GET when they are there.
    """
    client = redis_client()
    if client is None or client.exists(f"{key_prefix()}:gen"):
        return False
    try:
        leaderboards_rebuild()
    except DomainValidationError:
        return False  # another worker is building them
    return True


def _rebuild(
    client: redis.Redis, prefix: str, progress: Callable[[str, int], None]
) -> dict[str, Any]:
    generation = str(client.incr(f"{prefix}:nextgen"))
    base = f"{prefix}:g{generation}:"
    read_started = timezone.now()
    since = read_started - CATCH_UP_MARGIN
    totals, bitmaps, rows, settled_id = _read_ledger(
        now=read_started, settled_before=since, progress=progress
    )
    progress("read", rows)

    written = 0
    load = client.register_script(_LOAD_SCRIPT)
    for suffix, (expires_at, scores) in totals.items():
        items = list(scores.items())
        for start in range(0, len(items), WRITE_BATCH):
            lines = "".join(
                f"{-xp} {member(uid)}\n" for uid, xp in items[start : start + WRITE_BATCH]
            )
            load(keys=[base + suffix], args=[lines, expires_at])
        written += 1
    pipe = client.pipeline(transaction=False)
    for chunk, bits in bitmaps.items():
        pipe.set(f"{base}applied:{chunk}", bytes(bits))
    pipe.execute()
    progress("written", written)

    client.set(f"{prefix}:gen", generation)
    caught_up = _catch_up(client, after_id=settled_id)
    progress("caught up", caught_up)
    _delete_other_generations(client, prefix, generation)
    return {"backend": "redis", "rows": rows, "boards": written, "caught_up": caught_up}


def _read_ledger(
    *,
    now: datetime.datetime,
    settled_before: datetime.datetime,
    progress: Callable[[str, int], None],
) -> tuple[dict[str, tuple[int, dict[int, int]]], dict[int, bytearray], int, int]:
    """Sum every live board and mark every row id, from one read of the ledger.

    Also returns the highest id of a row created before `settled_before`: every row with a
    higher id may have been uncommitted when the read began.
    """
    totals: dict[str, tuple[int, dict[int, int]]] = {}
    per_day: dict[tuple[datetime.date, int | None], list[dict[int, int]]] = {}
    bitmaps: dict[int, bytearray] = {}
    chunk_bytes = 1 << (BITMAP_CHUNK_BITS - 3)
    mask = (1 << BITMAP_CHUNK_BITS) - 1
    rows = 0
    settled_id = 0
    query = (
        XpTransaction.objects.order_by()
        .annotate(
            settled=ExpressionWrapper(Q(created_at__lt=settled_before), output_field=BooleanField())
        )
        .values_list("id", "user_id", "course_id", "local_date", "amount", "settled")
    )
    with transaction.atomic():
        statement_timeout_for_jobs(local=True)  # a job, not a request
        for row_id, user_id, course_id, day, amount, settled in query.iterator(chunk_size=20_000):
            if settled and row_id > settled_id:
                settled_id = row_id
            targets = per_day.get((day, course_id))
            if targets is None:
                targets = []
                for board in boards_of_entry(local_day=day, course_id=course_id):
                    expires = board.expires_at
                    if expires is not None and expires <= now:
                        continue
                    entry = totals.get(board.suffix)
                    if entry is None:
                        expires_at = int(expires.timestamp()) if expires else 0
                        entry = totals[board.suffix] = (expires_at, defaultdict(int))
                    targets.append(entry[1])
                per_day[(day, course_id)] = targets
            for scores in targets:
                scores[user_id] += amount
            chunk = row_id >> BITMAP_CHUNK_BITS
            bits = bitmaps.get(chunk)
            if bits is None:
                bits = bitmaps[chunk] = bytearray(chunk_bytes)
            offset = row_id & mask
            bits[offset >> 3] |= 0x80 >> (offset & 7)  # Redis numbers bits from the left
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                progress("reading", rows)
    return totals, bitmaps, rows, settled_id


def _catch_up(client: redis.Redis, *, after_id: int) -> int:
    rows = [
        _Row(*values)
        for values in XpTransaction.objects.filter(id__gt=after_id)
        .order_by("id")
        .values_list("id", "user_id", "course_id", "local_date", "amount")
    ]
    return _redis_record(client, rows) if rows else 0


def _delete_other_generations(client: redis.Redis, prefix: str, keep: str) -> None:
    keep_base = f"{prefix}:g{keep}:"
    doomed = []
    for key in client.scan_iter(match=f"{prefix}:g[0-9]*:*", count=1000):
        if not key.decode().startswith(keep_base):
            doomed.append(key)
        if len(doomed) >= 1000:
            client.unlink(*doomed)
            doomed = []
    if doomed:
        client.unlink(*doomed)


def board_key(board: Board) -> str:
    """The live Redis key of a board (for operators and tests)."""
    client = redis_client()
    generation = (client.get(f"{key_prefix()}:gen") if client else None) or b"0"
    return f"{key_prefix()}:g{generation.decode()}:{board.suffix}"
