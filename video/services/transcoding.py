"""Transcoding a lesson's upload into its HLS ladder, as a claimed, idempotent job.

`video_transcode_request` creates the upload's one `TranscodeJob` (unique per upload id) and
enqueues it on commit; `transcode_job_run` (the task) claims it with
`select_for_update(skip_locked=True)`, so a redelivered or duplicated task finds it taken or
done and returns. A job whose worker died is reclaimed by `transcode_jobs_reclaim` (beat) once
its heartbeat is older than STRIDE_VIDEO_STALE_JOB_MINUTES.
"""

from __future__ import annotations

import datetime
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainValidationError
from core.jobs import task_enqueue
from learning.models import Lesson
from video import ffmpeg
from video.models import LessonVideo, TranscodeJob
from video.services import storage, uploads

logger = logging.getLogger(__name__)
TASK = "video.transcode"
PROGRESS_SAVE_SECONDS = 1.0  # live progress without a write per ffmpeg report


@transaction.atomic
def video_transcode_request(*, video: LessonVideo) -> TranscodeJob:
    """Transcode the video's current upload (again, if it failed); one job per upload."""
    video = LessonVideo.objects.select_for_update().get(pk=video.pk)
    if uploads.s3_mode():
        video = uploads.video_upload_in_s3(video=video) or video
        uploaded = bool(video.source_path)
    else:
        uploaded = bool(video.source_path) and storage.absolute(video.source_path).is_file()
    if not uploaded:
        raise DomainValidationError(
            {"file": ["No file has been uploaded yet: POST it to the upload URL first."]}
        )
    job, created = TranscodeJob.objects.get_or_create(
        upload_id=video.upload_id,
        defaults={"video": video, "backend": settings.STRIDE_VIDEO_BACKEND},
    )
    if not created:
        if job.status != TranscodeJob.Status.FAILED:
            return job  # already queued, running or done: asking again changes nothing
        job.status = TranscodeJob.Status.QUEUED  # retrying a failed job is this one action
        job.error = ""
        job.save(update_fields=["status", "error"])
    video.status = LessonVideo.Status.PROCESSING
    video.progress = 0
    video.failure_reason = ""
    video.save(update_fields=["status", "progress", "failure_reason", "updated_at"])
    transaction.on_commit(lambda: task_enqueue(TASK, job.pk))
    return job


def _claim(job_id: int, now: datetime.datetime) -> TranscodeJob | None:
    stale = now - datetime.timedelta(minutes=settings.STRIDE_VIDEO_STALE_JOB_MINUTES)
    with transaction.atomic():
        job = (
            TranscodeJob.objects.select_for_update(skip_locked=True)
            .filter(pk=job_id)
            .filter(
                Q(status=TranscodeJob.Status.QUEUED)
                | Q(status=TranscodeJob.Status.RUNNING, heartbeat_at__lt=stale)
            )
            .first()
        )
        if job is None:
            return None
        job.status = TranscodeJob.Status.RUNNING
        job.attempts += 1
        job.claimed_at = job.heartbeat_at = now
        job.save(update_fields=["status", "attempts", "claimed_at", "heartbeat_at"])
    return job


def transcode_job_run(*, job_id: int) -> str:
    """Run one transcode job if this worker can claim it; answers what happened (for logs)."""
    job = _claim(job_id, timezone.now())
    if job is None:
        return "skipped"
    video = LessonVideo.objects.filter(pk=job.video_id, upload_id=job.upload_id).first()
    if video is None:  # the video was replaced or deleted meanwhile
        _finish(job, TranscodeJob.Status.FAILED, "The upload was replaced.")
        return "replaced"
    if job.backend == "mediaconvert":
        return _submit(job, video)
    source = storage.absolute(video.source_path)
    try:
        probe = _checked_probe(source)
    except ffmpeg.ProbeError as error:
        _fail(job, video, str(error))
        return "failed"
    out = storage.hls_folder(job.upload_id)
    shutil.rmtree(out, ignore_errors=True)  # an earlier, interrupted attempt's files
    renditions = ffmpeg.ladder(probe)
    for rendition in renditions:
        (out / rendition.name).mkdir(parents=True, exist_ok=True)
    cmd = ffmpeg.transcode_command(
        source=source,
        out=out,
        probe=probe,
        renditions=renditions,
        segment_seconds=settings.STRIDE_VIDEO_SEGMENT_SECONDS,
        ffmpeg=settings.STRIDE_VIDEO_FFMPEG,
        preset=settings.STRIDE_VIDEO_FFMPEG_PRESET,
    )
    saved_at = [0.0]

    def on_progress(percent: int) -> None:
        if time.monotonic() - saved_at[0] < PROGRESS_SAVE_SECONDS:
            return
        saved_at[0] = time.monotonic()
        now = timezone.now()
        LessonVideo.objects.filter(pk=video.pk, upload_id=job.upload_id).update(
            progress=percent, updated_at=now
        )
        TranscodeJob.objects.filter(pk=job.pk).update(heartbeat_at=now)

    try:
        ffmpeg.run(cmd, duration=probe.duration, on_progress=on_progress)
        (out / "sprite.vtt").write_text(ffmpeg.sprite_vtt(probe.duration))
    except (RuntimeError, OSError) as error:
        logger.warning("Transcode %s failed: %s", job.upload_id, error)
        _fail(job, video, f"Transcoding failed: {error}")
        return "failed"
    with transaction.atomic():
        updated = LessonVideo.objects.filter(pk=video.pk, upload_id=job.upload_id).update(
            status=LessonVideo.Status.READY,
            progress=100,
            failure_reason="",
            duration_seconds=probe.duration,
            width=probe.width,
            height=probe.height,
            bucket_seconds=_bucket_seconds(probe.duration),
            renditions=[
                {
                    "name": r.name,
                    "width": r.width,
                    "height": r.height,
                    "bandwidth": r.bandwidth,
                    "playlist": f"{r.name}/index.m3u8",
                }
                for r in renditions
            ],
            hls_path=storage.relative(out),
            thumbnail_name="poster.jpg",
            sprite_vtt_name="sprite.vtt",
            updated_at=timezone.now(),
        )
        _finish(job, TranscodeJob.Status.DONE if updated else TranscodeJob.Status.FAILED, "")
    return "done" if updated else "replaced"


def _submit(job: TranscodeJob, video: LessonVideo) -> str:
    """Hand the job to MediaConvert; beat's poll (video.poll_mediaconvert) takes it from there."""
    from botocore.exceptions import BotoCoreError, ClientError

    from video.services.mediaconvert import mediaconvert_job_submit

    try:
        mediaconvert_job_submit(job=job)
    except (BotoCoreError, ClientError) as error:
        _fail(job, video, f"MediaConvert refused the job: {error}")
        return "failed"
    return "submitted"


def _bucket_seconds(duration: float) -> float:
    """One-second buckets up to STRIDE_VIDEO_PER_SECOND_MAX_SECONDS, one percent beyond."""
    if duration <= settings.STRIDE_VIDEO_PER_SECOND_MAX_SECONDS:
        return 1.0
    return duration / 100


def _checked_probe(source: Path) -> ffmpeg.Probe:
    """ffprobe's reading of the upload, within the configured limits, or ProbeError saying why."""
    if not source.is_file():
        raise ffmpeg.ProbeError("The uploaded file is missing.")
    size = source.stat().st_size
    if size > settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES:
        raise ffmpeg.ProbeError(
            f"The file is {size:,} bytes; at most {settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES:,} "
            "are accepted."
        )
    probe = ffmpeg.probe(source, ffprobe=settings.STRIDE_VIDEO_FFPROBE)
    if probe.duration > settings.STRIDE_VIDEO_MAX_DURATION_SECONDS:
        raise ffmpeg.ProbeError(
            f"The video lasts {probe.duration:.0f} s; at most "
            f"{settings.STRIDE_VIDEO_MAX_DURATION_SECONDS} s are accepted."
        )
    max_w, max_h = settings.STRIDE_VIDEO_MAX_WIDTH, settings.STRIDE_VIDEO_MAX_HEIGHT
    if max(probe.width, probe.height) > max(max_w, max_h) or min(probe.width, probe.height) > min(
        max_w, max_h
    ):
        raise ffmpeg.ProbeError(
            f"The video is {probe.width}x{probe.height}; at most {max_w}x{max_h} is accepted."
        )
    return probe


def _fail(job: TranscodeJob, video: LessonVideo, reason: str) -> None:
    with transaction.atomic():
        LessonVideo.objects.filter(pk=video.pk, upload_id=job.upload_id).update(
            status=LessonVideo.Status.FAILED, failure_reason=reason, updated_at=timezone.now()
        )
        _finish(job, TranscodeJob.Status.FAILED, reason)


def _finish(job: TranscodeJob, status: str, error: str) -> None:
    TranscodeJob.objects.filter(pk=job.pk).update(
        status=status, error=error, finished_at=timezone.now()
    )


def transcode_jobs_reclaim(*, now: datetime.datetime | None = None) -> list[int]:
    """Re-enqueue running jobs whose worker stopped reporting; the ids re-enqueued."""
    now = now or timezone.now()
    stale = now - datetime.timedelta(minutes=settings.STRIDE_VIDEO_STALE_JOB_MINUTES)
    ids = list(
        TranscodeJob.objects.filter(
            Q(status=TranscodeJob.Status.RUNNING, heartbeat_at__lt=stale)
            | Q(status=TranscodeJob.Status.QUEUED, created_at__lt=stale)
        ).values_list("pk", flat=True)[:100]
    )
    for job_id in ids:
        task_enqueue(TASK, job_id)
    return ids


def video_replace(*, lesson: Lesson, file: Any) -> LessonVideo:
    """Attach `file` to `lesson` (replacing its video, if any) and queue its transcode, as the
    lesson page's upload form and the admin do."""
    max_bytes = settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES
    if file.size > max_bytes:
        raise DomainValidationError(
            {"file": [f"The file is larger than the limit of {max_bytes:,} bytes."]},
            code="too_large",
        )
    if not file.size:
        raise DomainValidationError({"file": ["The file is empty."]})
    video = uploads.video_upload_file(lesson=lesson, file=file)
    video_transcode_request(video=video)
    video.refresh_from_db()
    return video
