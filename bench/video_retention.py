"""Benchmark a video's watch analytics with 100,000 viewing sessions.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/video_retention.py [--sessions 100000] [--learners 20000]

It (re)creates its own database, `stride_bench_video_retention`, makes one ready 10-minute
video (one-second buckets), and COPies in `--sessions` views by `--learners` learners as the
heartbeats would leave them: each view watches from the start to a drop-off point (a third to
the end), a quarter also re-watch a stretch, at a mix of speeds and renditions. Then it times
`video_analytics` (the six aggregate queries and the curve) five times.
Target: under 1 s with 100,000 sessions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
from _setup import ROOT, copy_learners, copy_rows, recreate_database

DB = "stride_bench_video_retention"
DURATION = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=20_000)
    args = parser.parse_args()
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432/postgres")
    os.environ["DATABASE_URL"] = recreate_database(base, DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from learning.services import courses_upsert, lessons_upsert
    from video.models import LessonVideo
    from video.selectors import video_analytics

    call_command("migrate", verbosity=0)
    courses_upsert(items=[{"external_id": "bench-course", "title": "Bench"}])
    lessons_upsert(items=[{"external_id": "bench-lesson", "course": "bench-course", "title": "B"}])
    from learning.models import Lesson

    video = LessonVideo.objects.create(
        lesson=Lesson.objects.get(external_id="bench-lesson"),
        status=LessonVideo.Status.READY,
        duration_seconds=DURATION,
        bucket_seconds=1.0,
        renditions=[{"name": n} for n in ("1080p", "720p", "480p")],
    )
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        users = copy_learners(cursor, args.learners, now=now)
        n = args.sessions
        stops = np.where(
            rng.random(n) < 0.33, DURATION - 1, rng.exponential(150, n).clip(1, DURATION - 1)
        ).astype(int)
        devices = rng.choice(["desktop", "mobile", "tablet"], n, p=[0.6, 0.3, 0.1])
        viewers = rng.choice(users, n)
        copy_rows(
            cursor,
            "video_watchsession",
            ["video_id", "user_id", "view_id", "device", "last_seq", "coverage",
             "covered_buckets", "watched_seconds", "started_at", "updated_at"],
            (
                (video.pk, int(viewers[i]), f"v{i}", devices[i], 0,
                 f"[[0, {stops[i]}]]", int(stops[i]) + 1, float(stops[i] + 1), now, now)
                for i in range(n)
            ),
        )  # fmt: skip
        cursor.execute("SELECT id FROM video_watchsession ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        speeds = rng.choice([1.0, 1.25, 1.5, 2.0], n, p=[0.6, 0.15, 0.15, 0.1])
        renditions = rng.choice(["1080p", "720p", "480p"], n)
        rewatch = rng.random(n) < 0.25
        rows = []
        for i in range(n):
            rows.append((ids[i], video.pk, 0, int(stops[i]), False, float(stops[i] + 1),
                         float(speeds[i]), renditions[i], now))  # fmt: skip
            if rewatch[i] and stops[i] > 20:
                a = int(rng.integers(0, stops[i] - 10))
                rows.append((ids[i], video.pk, a, a + 9, True, 10.0, float(speeds[i]),
                             renditions[i], now))  # fmt: skip
        copy_rows(
            cursor,
            "video_watchinterval",
            ["session_id", "video_id", "start_bucket", "end_bucket", "rewatch", "seconds",
             "speed", "rendition", "created_at"],
            rows,
        )  # fmt: skip
        cursor.execute("ANALYZE video_watchsession; ANALYZE video_watchinterval")
    print(
        f"{n:,} sessions and {len(rows):,} intervals of one {DURATION} s video by "
        f"{args.learners:,} learners loaded in {time.perf_counter() - started:.1f} s"
    )
    times = []
    for _ in range(5):
        started = time.perf_counter()
        stats = video_analytics(video=video)
        times.append(time.perf_counter() - started)
    assert stats.views == n
    print(
        f"video_analytics: median {1000 * statistics.median(times):.0f} ms, worst "
        f"{1000 * max(times):.0f} ms of 5 (target < 1000 ms: "
        f"{'OK' if max(times) < 1 else 'OVER'}); completion {stats.completion_rate:.1%}, "
        f"biggest drop at {stats.drop_offs[0]['at_seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
