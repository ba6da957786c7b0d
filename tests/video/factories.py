"""Building videos as a user would: through the upload and transcode services."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from learning.models import Lesson
from video.models import LessonVideo
from video.services import storage
from video.services.transcoding import transcode_job_run, video_transcode_request
from video.services.uploads import video_upload_received, video_upload_start
from video.services.watching import heartbeat_accept, heartbeat_token, heartbeats_process


def video_uploaded(lesson: Lesson, clip: Path) -> LessonVideo:
    """`lesson` with `clip` uploaded (copied where the upload view would stream it)."""
    video, _ = video_upload_start(lesson=lesson)
    destination = storage.source_file(video.upload_id)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, destination)
    return video_upload_received(upload_id=str(video.upload_id), size=destination.stat().st_size)


def video_transcoded(lesson: Lesson, clip: Path) -> LessonVideo:
    """`lesson` with `clip` uploaded and transcoded by the worker's service."""
    video = video_uploaded(lesson, clip)
    job = video_transcode_request(video=video)
    transcode_job_run(job_id=job.pk)
    video.refresh_from_db()
    return video


def video_ready(lesson: Lesson, *, duration: float = 10.0) -> LessonVideo:
    """A ready video of `duration` seconds, as the transcoder leaves one (files not written),
    for tests about watching rather than transcoding."""
    video, _ = video_upload_start(lesson=lesson)
    LessonVideo.objects.filter(pk=video.pk).update(
        status=LessonVideo.Status.READY,
        progress=100,
        duration_seconds=duration,
        width=1280,
        height=720,
        bucket_seconds=1.0 if duration <= 1800 else duration / 100,
        renditions=[
            {"name": "720p", "width": 1280, "height": 720, "bandwidth": 2928000},
            {"name": "480p", "width": 854, "height": 480, "bandwidth": 1528000},
        ],
        hls_path=storage.relative(storage.hls_folder(video.upload_id)),
    )
    video.refresh_from_db()
    return video


def accept_beat(
    user, video: LessonVideo, view: str, seq: int, start: float, end: float, **extra
) -> bool:
    """Send one heartbeat as the player does (the page's token for `view`), not applied yet;
    True when it was taken (not a resend of one still waiting)."""
    token = heartbeat_token(video=video, user=user, view_id=view)
    body = {"seq": seq, "start": start, "end": end, "position": end, **extra}
    return heartbeat_accept(token=token, body=json.dumps(body).encode())


def send_beat(
    user, video: LessonVideo, view: str, seq: int, start: float, end: float, **extra
) -> bool:
    """`accept_beat`, then applied at once as the worker does a few seconds later."""
    stored = accept_beat(user, video, view, seq, start, end, **extra)
    heartbeats_process()
    return stored
