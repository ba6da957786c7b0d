"""Thin Celery entry points of the video app."""

from celery import shared_task

from video.services.mediaconvert import mediaconvert_jobs_poll
from video.services.transcoding import transcode_job_run, transcode_jobs_reclaim
from video.services.watching import heartbeats_process


@shared_task(name="video.transcode", acks_late=True)
def transcode(job_id: int) -> str:
    return transcode_job_run(job_id=job_id)


@shared_task(name="video.reclaim_stale_jobs")
def reclaim_stale_jobs() -> int:
    return len(transcode_jobs_reclaim())


@shared_task(name="video.poll_mediaconvert")
def poll_mediaconvert() -> dict[str, int]:
    return mediaconvert_jobs_poll()


@shared_task(name="video.process_heartbeats")
def process_heartbeats() -> int:
    return heartbeats_process()
