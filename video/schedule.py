"""Beat entries for video, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # A worker killed mid-transcode leaves its job "running" with a heartbeat that stops; every
    # ten minutes is soon enough for a learner waiting on a video, and cheap (one indexed query).
    "video.reclaim_stale_jobs": {
        "task": "video.reclaim_stale_jobs",
        "schedule": crontab(minute="*/10"),
        # The next pass looks afresh: a late one is worthless once it is due.
        "options": {"expire_seconds": 8 * 60},
    },
    # "Transcoding polls": MediaConvert jobs in flight are asked for their state every minute
    # (progress on the lesson, then ready or failed); with none in flight it is one query.
    "video.poll_mediaconvert": {
        "task": "video.poll_mediaconvert",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 50},
    },
    # Heartbeats leave their video_progress events pending (ingestion is cheap only in bulk);
    # every minute keeps engagement's view of watching (lesson progress, streaks, XP, risk
    # signals) at most a minute behind, and an empty pass is one query.
    "video.flush_progress_events": {
        "task": "video.flush_progress_events",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 50},
    },
}
