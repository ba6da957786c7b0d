"""The demo's lesson video: a short generated clip (ffmpeg's test pattern and a tone) on the
first demo lesson, transcoded as the worker would, and watch sessions from its learners so
that /dashboard/videos/ has a retention curve. Skipped when ffmpeg is missing."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from learning.models import Enrollment, Lesson
from video.models import LessonVideo
from video.services import storage
from video.services.transcoding import transcode_job_run, video_transcode_request
from video.services.uploads import video_upload_received, video_upload_start
from video.services.watching import heartbeat_accept, heartbeat_token, heartbeats_process

DEMO_LESSON = "demo-course-01-lesson-01"
CLIP_SECONDS = 12
VIEWERS = 40


def demo_video_seed(*, seed: int) -> int:
    """Attach, transcode and watch the demo video (once); the number of views made."""
    lesson = Lesson.objects.filter(external_id=DEMO_LESSON).select_related("course").first()
    if lesson is None or not (
        shutil.which(settings.STRIDE_VIDEO_FFMPEG) and shutil.which(settings.STRIDE_VIDEO_FFPROBE)
    ):
        return 0
    video = LessonVideo.objects.filter(lesson=lesson).first()
    if video is None or video.status != LessonVideo.Status.READY:
        video = _attach(lesson)
        if video.status != LessonVideo.Status.READY:
            return 0
    return _watch(video, random.Random(seed))


def _attach(lesson: Lesson) -> LessonVideo:
    video, _ = video_upload_start(lesson=lesson)
    destination = storage.source_file(video.upload_id)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip.mp4"
        subprocess.run(
            [
                settings.STRIDE_VIDEO_FFMPEG, "-v", "error", "-y",
                "-f", "lavfi", "-i", f"testsrc=size=854x480:rate=25:duration={CLIP_SECONDS}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_SECONDS}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                str(clip),
            ],
            check=True,
        )  # fmt: skip
        shutil.move(clip, destination)
    video = video_upload_received(upload_id=str(video.upload_id), size=destination.stat().st_size)
    job = video_transcode_request(video=video)
    transcode_job_run(job_id=job.pk)  # the worker's queued copy will find it done
    video.refresh_from_db()
    return video


def _watch(video: LessonVideo, rng: random.Random) -> int:
    """Views by enrolled learners: most drop off early, some re-watch, a few at 1.5x or 2x."""
    learners = list(
        Enrollment.objects.filter(course_id=video.lesson.course_id)
        .select_related("user")
        .order_by("user_id")[:VIEWERS]
    )
    duration = video.duration_seconds or CLIP_SECONDS
    views = 0
    for n, enrollment in enumerate(learners):
        stop = duration if rng.random() < 0.45 else rng.uniform(1, duration)
        speed = rng.choice((1.0, 1.0, 1.0, 1.25, 1.5, 2.0))
        device = rng.choice(("desktop", "desktop", "mobile", "tablet"))
        rendition = rng.choice(("480p", "auto"))
        view = f"demo-view-{n:03d}"
        beats = [(0.0, min(stop, duration))]
        if rng.random() < 0.25 and stop > 4:  # went back over a part
            back = rng.uniform(0, stop - 3)
            beats.append((back, min(back + 3, duration)))
        # As the player sends them: with the page's token for this view, then applied in
        # bulk as the worker does every few seconds.
        token = heartbeat_token(video=video, user=enrollment.user, view_id=view)
        for seq, (start, end) in enumerate(beats):
            beat = {
                "seq": seq, "start": start, "end": end, "position": end, "speed": speed,
                "rendition": rendition, "device": device, "kind": "pause" if seq else "tick",
            }  # fmt: skip
            stored = heartbeat_accept(token=token, body=json.dumps(beat).encode())
            views += stored and seq == 0
    heartbeats_process()
    return views
