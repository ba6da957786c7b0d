"""Benchmark transcoding: a 60 s 1080p clip through Stride vs the same ffmpeg command by hand.

How to run (PostgreSQL must be up; the role needs CREATEDB; ffmpeg installed):

    .venv/bin/python bench/video_transcode.py [--seconds 60] [--rounds 1]

It (re)creates its own database, `stride_bench_video`, generates the clip (ffmpeg's test
pattern and a tone, 1920x1080 at 30 fps), then per round times (a) the one ffmpeg command that
Stride runs, typed by hand (no `-progress`), and (b) Stride: the transcode request on a stored
upload through the Celery task (eager) - ffprobe checks, the claim, the same ffmpeg call with
its progress read and saved live, the sprite's WebVTT and the video marked ready.
Target: Stride at most 10% slower than the hand-run command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, recreate_database

DB = "stride_bench_video"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stride-bench-video-"))
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432/postgres")
    os.environ["DATABASE_URL"] = recreate_database(base, DB)
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from celery import current_app
    from django.conf import settings
    from django.core.management import call_command

    from learning.services import courses_upsert, lessons_upsert
    from video import ffmpeg
    from video.models import LessonVideo
    from video.services import storage
    from video.services.transcoding import video_transcode_request
    from video.services.uploads import video_upload_received, video_upload_start

    call_command("migrate", verbosity=0)
    current_app.conf.task_always_eager = True
    clip = work / "clip.mp4"
    started = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=size=1920x1080:rate=30:duration={args.seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={args.seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         str(clip)],
        check=True,
    )  # fmt: skip
    print(f"clip: {args.seconds} s 1080p30 generated in {time.perf_counter() - started:.1f} s")
    courses_upsert(items=[{"external_id": "bench-course", "title": "Bench"}])

    probe = ffmpeg.probe(clip)
    renditions = ffmpeg.ladder(probe)
    hand_out = work / "by-hand"
    cmd = ffmpeg.transcode_command(
        source=clip, out=hand_out, probe=probe, renditions=renditions,
        segment_seconds=settings.STRIDE_VIDEO_SEGMENT_SECONDS,
        preset=settings.STRIDE_VIDEO_FFMPEG_PRESET,
    )  # fmt: skip
    i = cmd.index("-progress")
    by_hand = cmd[:i] + cmd[i + 2 :]
    print("by hand:", " ".join(by_hand))

    hand_times, stride_times = [], []
    for n in range(args.rounds):
        shutil.rmtree(hand_out, ignore_errors=True)
        for r in renditions:
            (hand_out / r.name).mkdir(parents=True)
        started = time.perf_counter()
        subprocess.run(by_hand, check=True, stdout=subprocess.DEVNULL)
        hand_times.append(time.perf_counter() - started)

        lessons_upsert(items=[{"external_id": f"bench-lesson-{n}", "course": "bench-course",
                               "title": f"Bench {n}"}])  # fmt: skip
        from learning.models import Lesson

        video, _ = video_upload_start(lesson=Lesson.objects.get(external_id=f"bench-lesson-{n}"))
        source = storage.source_file(video.upload_id)
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, source)
        video = video_upload_received(upload_id=str(video.upload_id), size=source.stat().st_size)
        started = time.perf_counter()
        video_transcode_request(video=video)  # on commit, the task runs (eager)
        stride_times.append(time.perf_counter() - started)
        video.refresh_from_db()
        assert video.status == LessonVideo.Status.READY, video.failure_reason
        print(
            f"round {n + 1}: by hand {hand_times[-1]:.1f} s, Stride {stride_times[-1]:.1f} s "
            f"({100 * (stride_times[-1] / hand_times[-1] - 1):+.1f}%)"
        )
    hand, stride = min(hand_times), min(stride_times)
    verdict = "OK" if stride <= 1.10 * hand else "OVER"
    print(
        f"best of {args.rounds}: by hand {hand:.1f} s, Stride {stride:.1f} s "
        f"({100 * (stride / hand - 1):+.1f}%, target <= +10%: {verdict}); "
        f"preset {settings.STRIDE_VIDEO_FFMPEG_PRESET}, {len(renditions)} renditions, "
        f"{os.cpu_count()} cores"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
