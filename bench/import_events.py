"""Benchmark `manage.py import_events` on PostgreSQL: events per second, first run and replay.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    DATABASE_URL=postgres://stride:stride@127.0.0.1:5432/stride \\
        .venv/bin/python bench/import_events.py [--events 300000] [--gamification both]

It (re)creates its own database, `stride_bench_import` on the server of DATABASE_URL (or
BENCH_DB), migrates it, writes a gzipped JSON Lines file of N events (a realistic mix of types
from ~5,000 learners in 20 courses with lessons; cached under var/bench/ per size), imports it
with `manage.py import_events`, prints events/s, then imports it again to show the replay speed
and that no row was added. Target: >= 30,000 events/s on a 2-core machine.

`--gamification off` sets gamification aside (STRIDE_GAMIFICATION_ENABLED=0: no XP, streaks or
achievements from the events), `on` derives them as production does; `both` (the default) runs
each on a fresh database, off first, and prints both. Target with gamification on: >= 25,000
events/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DB", "stride_bench_import")

# (type, weight): roughly what a learning platform sends.
MIX = [
    ("page_view", 24),
    ("login", 7),
    ("session_start", 5),
    ("session_end", 5),
    ("lesson_started", 12),
    ("lesson_completed", 9),
    ("video_progress", 16),
    ("quiz_submitted", 6),
    ("quiz_passed", 3),
    ("assignment_submitted", 2),
    ("discussion_post", 1.5),
    ("discussion_reply", 2.5),
    ("review_posted", 0.5),
    ("resource_download", 2),
    ("live_session_attended", 1),
    ("live_session_missed", 0.5),
    ("purchase", 0.4),
    ("course_completed", 0.2),
    ("enrollment_withdrawn", 0.2),
    ("x-certificate-shared", 1.2),
]
LESSON_TYPES = {"lesson_started", "lesson_completed", "video_progress", "quiz_submitted"}
COURSE_TYPES = LESSON_TYPES | {
    "course_completed",
    "enrollment_withdrawn",
    "assignment_submitted",
    "quiz_passed",
    "review_posted",
    "live_session_attended",
    "live_session_missed",
}


def properties(event_type: str, rng: random.Random) -> dict:
    if event_type == "video_progress":
        return {"percent": rng.choice([10, 25, 50, 75, 90, 100]), "position_seconds": 120}
    if event_type == "quiz_submitted":
        return {"score": rng.randint(0, 10), "max_score": 10}
    if event_type == "session_end":
        return {"duration_seconds": rng.randint(60, 5400)}
    if event_type == "purchase":
        return {"amount": 49.0, "currency": "EUR", "item": "pro-plan"}
    if event_type == "review_posted":
        return {"rating": rng.randint(1, 5)}
    if event_type == "page_view":
        return {"path": f"/courses/{rng.randint(1, 20)}"}
    if event_type.startswith("x-"):
        return {"network": "linkedin"}
    return {}


def generate(path: Path, n: int, users: int = 5000, courses: int = 20, lessons: int = 15) -> None:
    """Write n events as gzipped JSON Lines."""
    rng = random.Random(42)
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    enrolled = {u: rng.sample(range(courses), rng.randint(1, 3)) for u in range(users)}
    devices = ["desktop", "mobile", "tablet"]
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", compresslevel=3) as f:
        for i, event_type in enumerate(rng.choices(types, weights, k=n)):
            user = rng.randrange(users)
            event = {
                "id": f"ev-{i:08d}",
                "type": event_type,
                "user": f"learner-{user:05d}",
                "occurred_at": (start + timedelta(seconds=i * 20 + rng.randrange(20))).isoformat(),
                "session_id": f"s-{user}-{i // 50}",
                "device": rng.choice(devices),
                "platform": "web",
                "properties": properties(event_type, rng),
            }
            if event_type in COURSE_TYPES or rng.random() < 0.5:
                course = rng.choice(enrolled[user])
                event["course"] = f"course-{course:02d}"
                if event_type in LESSON_TYPES:
                    event["lesson"] = f"course-{course:02d}-lesson-{rng.randrange(lessons):02d}"
            f.write(json.dumps(event) + "\n")
    tmp.rename(path)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def recreate_database(url: str) -> str:
    """Drop and create the benchmark database; return its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return with_database(url, BENCH_DB)


def manage(db_url: str, *args: str, gamification: bool = True) -> tuple[float, str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "STRIDE_VAR_DIR": str(ROOT / "var" / "bench"),
        "STRIDE_GAMIFICATION_ENABLED": "1" if gamification else "0",
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return time.perf_counter() - started, done.stdout


def count_events(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM engagement_event").fetchone()[0]


def gamification_counts(db_url: str) -> str:
    """What gamification derived: ledger rows, refusals, streak days, unlocks, level-ups."""
    tables = (
        ("XP rows", "gamification_xptransaction"),
        ("refusals", "gamification_xprefusal"),
        ("streak days", "gamification_streakday"),
        ("unlocks", "gamification_achievementunlock"),
        ("moments", "gamification_moment"),
    )
    with psycopg.connect(db_url) as conn:
        counts = [
            f"{conn.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:,} {label}"
            for label, table in tables
        ]
        xp = conn.execute("SELECT coalesce(sum(total_xp), 0) FROM gamification_learnergameprofile")
        counts.append(f"{xp.fetchone()[0]:,} XP in all")
    return ", ".join(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--gamification", choices=("off", "on", "both"), default="both")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database).")

    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events-{args.events}.jsonl.gz"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.events)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")

    modes = ("off", "on") if args.gamification == "both" else (args.gamification,)
    for mode in modes:
        gamification = mode == "on"
        db_url = recreate_database(url)
        manage(db_url, "migrate", "--verbosity", "0")
        print(f"gamification {mode}: database {BENCH_DB} migrated")
        for label in ("first import", "replay"):
            before = count_events(db_url)
            seconds, out = manage(
                db_url,
                "import_events",
                str(path),
                "--source",
                "bench",
                "--batch-size",
                str(args.batch_size),
                gamification=gamification,
            )
            added = count_events(db_url) - before
            summary = out.strip().splitlines()[0]
            inner = re.search(r"\(([\d,]+) events/s\)", summary)
            print(
                f"gamification {mode}, {label}: {args.events / seconds:,.0f} events/s wall-clock "
                f"incl. start-up ({seconds:.1f} s), command's own rate "
                f"{inner.group(1) if inner else '?'} events/s, {added} new rows"
            )
            print(f"  {summary}")
        if gamification:
            print(f"  derived: {gamification_counts(db_url)}")


if __name__ == "__main__":
    main()
