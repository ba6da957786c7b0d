"""The production transcoder: a MediaConvert job per upload, polled by beat while in flight.

The upload is in the media bucket (S3, django-storages) under the same key as on local disk;
the job writes the ladder next to it under hls/. The job is created with the upload id as
`ClientRequestToken`, so MediaConvert itself refuses to start a second job for a redelivered
task, on top of our TranscodeJob claim.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from video import mediaconvert
from video.models import LessonVideo, TranscodeJob

logger = logging.getLogger(__name__)


def _client():
    return mediaconvert.client(
        region=settings.STRIDE_MEDIACONVERT_REGION,
        endpoint_url=settings.STRIDE_MEDIACONVERT_ENDPOINT_URL or None,
    )


def _bucket_uri(upload_id: str) -> str:
    return f"s3://{settings.STRIDE_VIDEO_S3_BUCKET}/videos/{upload_id}/"


def mediaconvert_job_submit(*, job: TranscodeJob, client=None) -> str:
    """Create the MediaConvert job of a claimed TranscodeJob; its MediaConvert id."""
    client = client or _client()
    base = _bucket_uri(str(job.upload_id))
    answer = client.create_job(
        Role=settings.STRIDE_MEDIACONVERT_ROLE_ARN,
        Queue=settings.STRIDE_MEDIACONVERT_QUEUE_ARN,
        ClientRequestToken=str(job.upload_id),
        UserMetadata={"upload_id": str(job.upload_id)},
        StatusUpdateInterval="SECONDS_10",
        Settings=mediaconvert.job_settings(
            input_uri=f"{base}source",
            output_uri=f"{base}hls/",
            segment_seconds=settings.STRIDE_VIDEO_SEGMENT_SECONDS,
        ),
    )
    external_id = answer["Job"]["Id"]
    TranscodeJob.objects.filter(pk=job.pk).update(
        external_id=external_id, heartbeat_at=timezone.now()
    )
    return external_id


def mediaconvert_jobs_poll(*, client=None) -> dict[str, int]:
    """Ask MediaConvert about every job in flight; update progress, ready or failed videos."""
    running = list(
        TranscodeJob.objects.filter(
            backend="mediaconvert", status=TranscodeJob.Status.RUNNING
        ).exclude(external_id="")[:100]
    )
    if not running:
        return {}
    client = client or _client()
    tally: dict[str, int] = {}
    for job in running:
        answer = client.get_job(Id=job.external_id)["Job"]
        state = answer["Status"]
        tally[state] = tally.get(state, 0) + 1
        now = timezone.now()
        with transaction.atomic():
            videos = LessonVideo.objects.filter(pk=job.video_id, upload_id=job.upload_id)
            if state == "COMPLETE":
                videos.update(
                    status=LessonVideo.Status.READY,
                    progress=100,
                    failure_reason="",
                    renditions=mediaconvert.renditions_of(answer),
                    hls_path=f"videos/{job.upload_id}/hls",
                    thumbnail_name="poster.0000000.jpg",
                    updated_at=now,
                )
                TranscodeJob.objects.filter(pk=job.pk).update(
                    status=TranscodeJob.Status.DONE, finished_at=now
                )
            elif state in ("ERROR", "CANCELED"):
                reason = f"Transcoding failed: {answer.get('ErrorMessage') or state.lower()}"
                videos.update(
                    status=LessonVideo.Status.FAILED, failure_reason=reason, updated_at=now
                )
                TranscodeJob.objects.filter(pk=job.pk).update(
                    status=TranscodeJob.Status.FAILED, error=reason, finished_at=now
                )
            else:  # SUBMITTED, PROGRESSING
                videos.update(progress=min(99, answer.get("JobPercentComplete") or 0))
                TranscodeJob.objects.filter(pk=job.pk).update(heartbeat_at=now)
    return tally
