"""Beat entries for analytics, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Dashboards read whole learner-local days: once a night, after the day has ended in most
    # learners' timezones, recounts yesterday and whatever late events changed.
    "analytics.refresh": {
        "task": "analytics.refresh",
        "schedule": crontab(hour=1, minute=30),
        # The next night's refresh catches up on everything a missed one would have done.
        "options": {"expire_seconds": 12 * 3600},
    },
}
