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
    # The collector only stores heartbeats; applying them is cheap in bulk. Every 10 seconds
    # keeps a reloaded player's resume point right and engagement's view of watching (lesson
    # progress, streaks, XP, risk signals) seconds behind; an empty pass is one query.
    "video.process_heartbeats": {
        "task": "video.process_heartbeats",
        "schedule": 10.0,
        "options": {"expire_seconds": 9},
    },
}
