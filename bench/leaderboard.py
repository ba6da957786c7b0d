"""Benchmark the leaderboards: 1,000,000 learners on a Redis board, and the database backend.

How to run (PostgreSQL and Redis must be up; the role needs CREATEDB):

    DATABASE_URL=postgres://stride:stride@127.0.0.1:5432/stride \\
    REDIS_URL=redis://127.0.0.1:6390/6 \\
        .venv/bin/python bench/leaderboard.py [--learners 1000000] [--lookups 2000] \\
            [--db-learners 20000] [--db-rows 5] [--db-lookups 200] [--reuse]

It (re)creates its own database, `stride_bench_leaderboard`, migrates it and COPies in the
learners (names for the pages' one names query); `--reuse` keeps the learners of an earlier
run. Then:

* Redis: one weekly board of `--learners` learners, loaded with pipelined ZADD in batches of
  10,000 (XP drawn from a long-tailed distribution, so that there are many ties), under its
  own key prefix in the Redis of REDIS_URL; then `--lookups` lookups each of: the store's
  rank-around-me (rank and 2 neighbours either side of a random learner; one round trip),
  the store's top-50 page, and the whole `leaderboard_page` selector for a random viewer
  (top 50 + around + the names query on PostgreSQL). p50/p95/p99 printed for each, beside
  a PING's (what the machine's load alone costs a round trip) and the lookups' cost inside
  Redis (timed by a script around a loop over the same learners).
* The database backend (REDIS_URL unset for the selector), for contrast at a smaller size:
  `--db-learners` learners with `--db-rows` ledger rows each this week; `--db-lookups`
  selector calls of the weekly board around a random learner, and the all-time board.
* Counting that ledger into Redis as `leaderboards_record` does (rows per second, first and
  replayed), and `leaderboards_rebuild` on it.

Targets: rank-around-me and top-50 each under 5 ms at p99 with 1,000,000 learners in Redis.
The bench keys are deleted at the end; the database is kept (drop it by hand).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from _setup import ROOT, copy_learners, copy_rows, recreate_database, with_database

BENCH_DB = "stride_bench_leaderboard"
BENCH_PREFIX = "bench:lb"
ZADD_BATCH = 10_000
TARGET_MS = 5.0


def load_users(n: int) -> list[int]:
    """COPY n learners in; return their ids."""
    from django.db import connection

    with connection.cursor() as wrapper:
        return copy_learners(wrapper.cursor, n, now=datetime.now(UTC))


def load_ledger(user_ids: list[int], rows_each: int, *, rng: np.random.Generator) -> int:
    """COPY `rows_each` ledger rows this week for each learner; return the rows written."""
    from django.db import connection

    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0)
    span = max(1.0, (now - monday).total_seconds() - 60)
    amounts = rng.integers(5, 150, size=len(user_ids) * rows_each)
    offsets = rng.uniform(0, span, size=len(user_ids) * rows_each)
    columns = [
        "user_id",
        "kind",
        "amount",
        "reason",
        "reference",
        "idempotency_key",
        "occurred_at",
        "local_date",
        "balance_after",
        "level_after",
        "levelled_up",
        "created_at",
    ]

    def rows():
        k = 0
        for uid in user_ids:
            for _ in range(rows_each):
                at = monday + timedelta(seconds=float(offsets[k]))
                yield (
                    uid,
                    "grant",
                    int(amounts[k]),
                    "bench",
                    "",
                    f"bench:{k}",
                    at,
                    at.date(),
                    0,
                    1,
                    False,
                    now,
                )
                k += 1

    with connection.cursor() as wrapper:
        copy_rows(wrapper.cursor, "gamification_xptransaction", columns, rows())
        wrapper.execute("ANALYZE gamification_xptransaction")
    return len(user_ids) * rows_each


def percentiles(times: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.array(times), [50, 95, 99])
    return f"p50 {p50:6.3f} ms  p95 {p95:6.3f} ms  p99 {p99:6.3f} ms  max {max(times):7.3f} ms"


def timed(call, args_list) -> list[float]:
    times = []
    for args in args_list:
        started = time.perf_counter()
        call(*args)
        times.append((time.perf_counter() - started) * 1000)
    return times


# The same lookups timed inside Redis (TIME before and after a loop over the members): what
# the store itself costs, without the network, the client or the machine's other work.
_SERVER_SIDE = """
local t0 = redis.call('TIME')
for i = 2, #ARGV do
  local r = redis.call('ZRANK', KEYS[1], ARGV[i])
  if ARGV[1] == 'around' then
    redis.call('ZRANGE', KEYS[1], math.max(0, r - 2), r + 2, 'WITHSCORES')
  else
    redis.call('ZRANGE', KEYS[1], 0, 49, 'WITHSCORES')
  end
end
local t1 = redis.call('TIME')
return (t1[1] - t0[1]) * 1000000 + (t1[2] - t0[2])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--db-learners", type=int, default=20_000)
    parser.add_argument("--db-rows", type=int, default=5)
    parser.add_argument("--db-lookups", type=int, default=200)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the benchmark database of an earlier run"
    )
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database).")
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL to the Redis to load the board into (e.g. redis://...:6390/6).")
    fresh = not args.reuse
    os.environ["DATABASE_URL"] = (
        recreate_database(url, BENCH_DB) if fresh else with_database(url, BENCH_DB)
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.STRIDE_LEADERBOARD_KEY_PREFIX = BENCH_PREFIX
    from accounts.models import User
    from core.records import XpEntryRecord
    from core.statement_timeout import statement_timeout_for_jobs
    from gamification.models import XpTransaction
    from gamification.selectors import leaderboards as lb
    from gamification.services import leaderboards as services

    statement_timeout_for_jobs()  # loading a million rows is a job, not a request
    rng = np.random.default_rng(7)
    if fresh:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrated in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        user_ids = load_users(args.learners)
        seconds = time.perf_counter() - started
        print(f"loaded {len(user_ids):,} learners into PostgreSQL in {seconds:.1f} s")
    else:
        user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True)[: args.learners])
        XpTransaction.objects.all().delete()
        print(f"reusing {len(user_ids):,} learners of {BENCH_DB}")

    client = lb.redis_client()
    assert client is not None
    for key in client.scan_iter(match=f"{BENCH_PREFIX}:*", count=10_000):
        client.unlink(key)
    today = datetime.now(UTC).date()
    board = lb.Board.containing(lb.WEEKLY, today)
    key = f"{BENCH_PREFIX}:g0:{board.suffix}"
    xp = np.minimum(rng.pareto(1.5, size=len(user_ids)) * 120, 50_000).astype(np.int64) + 1
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(user_ids), ZADD_BATCH):
        chunk = user_ids[start : start + ZADD_BATCH]
        pipe.zadd(key, {lb.member(uid): -int(xp[start + i]) for i, uid in enumerate(chunk)})
        pipe.execute()
    client.set(f"{BENCH_PREFIX}:gen", "0")  # as a rebuild leaves it: the boards are built
    seconds = time.perf_counter() - started
    distinct = len(np.unique(xp))
    memory = client.memory_usage(key) or 0
    print(
        f"loaded {client.zcard(key):,} learners into one ZSET with pipelined ZADD in "
        f"{seconds:.1f} s ({distinct:,} distinct XP values: ties everywhere; "
        f"{memory / 2**20:.0f} MiB)"
    )

    picks = random.Random(13)
    viewers = [picks.choice(user_ids) for _ in range(args.lookups)]
    for uid in viewers[:50]:  # warm up the connection and the script cache
        lb._redis_ranked(board, limit=50, viewer_id=uid, neighbours=2)

    print(f"\nRedis, {args.learners:,} learners, {args.lookups:,} lookups each (client side):")
    print(f"  PING, for the machine     {percentiles(timed(client.ping, [()] * args.lookups))}")
    around = timed(
        lambda uid: lb._redis_ranked(board, limit=0, viewer_id=uid, neighbours=2),
        [(uid,) for uid in viewers],
    )
    print(f"  rank around me (store)    {percentiles(around)}")
    top = timed(
        lambda: lb._redis_ranked(board, limit=50, viewer_id=None, neighbours=0),
        [()] * args.lookups,
    )
    print(f"  top-50 page (store)       {percentiles(top)}")
    page = timed(
        lambda uid: lb.leaderboard_page(period=lb.WEEKLY, around_user_id=uid, on=today),
        [(uid,) for uid in viewers],
    )
    print(f"  leaderboard_page (+names) {percentiles(page)}")
    sample = lb.leaderboard_page(period=lb.WEEKLY, around_user_id=viewers[0], on=today)
    assert sample.viewer is not None and len(sample.top) == 50
    print(f"  e.g. viewer rank {sample.viewer.rank:,} of {sample.total:,}, {sample.viewer.xp} XP")
    server = client.register_script(_SERVER_SIDE)
    members = [lb.member(uid) for uid in viewers]
    for kind in ("around", "top"):
        micros = int(server(keys=[key], args=[kind, *members]))
        print(f"  server side, {kind:<7}      {micros / len(members):6.1f} us per lookup")
    worst = max(np.percentile(around, 99), np.percentile(top, 99))
    verdict = "OK" if worst < TARGET_MS else "SLOWER THAN TARGET"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  p99 of the store lookups {worst:.3f} ms (target < {TARGET_MS} ms): {verdict}")
    print(f"  (load average {load} on {os.cpu_count()} cores)")
    for found in client.scan_iter(match=f"{BENCH_PREFIX}:*", count=10_000):
        client.unlink(found)

    db_users = user_ids[: args.db_learners]
    started = time.perf_counter()
    rows = load_ledger(db_users, args.db_rows, rng=rng)
    print(
        f"\nloaded {rows:,} ledger rows this week for {len(db_users):,} learners in "
        f"{time.perf_counter() - started:.1f} s"
    )
    redis_url = settings.REDIS_URL
    settings.REDIS_URL = ""
    db_viewers = [picks.choice(db_users) for _ in range(args.db_lookups)]
    print(f"Database backend (PostgreSQL), {len(db_users):,} learners, {args.db_lookups} lookups:")
    for period in (lb.WEEKLY, lb.ALL_TIME):
        times = timed(
            lambda uid, p=period: lb.leaderboard_page(period=p, around_user_id=uid, on=today),
            [(uid,) for uid in db_viewers],
        )
        print(f"  {period + ' page + around':<26}{percentiles(times)}")

    settings.REDIS_URL = redis_url
    entries = [
        XpEntryRecord(
            id=pk,
            user_id=uid,
            kind=kind,
            action_code=None,
            amount=amount,
            course_id=None,
            occurred_at=at,
            local_date=day,
        )
        for pk, uid, kind, amount, at, day in XpTransaction.objects.order_by("pk").values_list(
            "pk", "user_id", "kind", "amount", "occurred_at", "local_date"
        )
    ]
    for label, expected in (("live record", rows), ("replayed record", 0)):
        started = time.perf_counter()
        applied = services._redis_record(client, entries, generation="bench")
        seconds = time.perf_counter() - started
        assert applied == expected
        print(f"\n{label} (Redis): {len(entries):,} ledger rows, {len(entries) / seconds:,.0f}/s")
    started = time.perf_counter()
    result = services.leaderboards_rebuild()
    seconds = time.perf_counter() - started
    print(
        f"rebuild from the ledger (Redis): {result.rows:,} rows into {result.boards} boards "
        f"in {seconds:.1f} s ({result.rows / seconds:,.0f} rows/s; every row is recent here, "
        "so all are looked at again by the catch-up)"
    )
    rebuilt = lb.leaderboard_page(period=lb.WEEKLY, around_user_id=db_viewers[0], on=today)
    settings.REDIS_URL = ""
    from_db = lb.leaderboard_page(period=lb.WEEKLY, around_user_id=db_viewers[0], on=today)
    agree = rebuilt.top == from_db.top and rebuilt.around == from_db.around
    print(f"rebuilt board agrees with the database backend: {agree}")
    settings.REDIS_URL = redis_url
    for found in client.scan_iter(match=f"{BENCH_PREFIX}:*", count=10_000):
        client.unlink(found)


if __name__ == "__main__":
    main()
