"""Beat entries for engagement, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Risk moves by the day (the model's labels are whole days of inactivity), so one
    # bulk pass a night, after the day has ended in most learners' timezones, is enough.
    "engagement.score_all": {
        "task": "engagement.score_all",
        "schedule": crontab(hour=2, minute=30),
    },
    # Alerts should reach staff the same working day; hourly catches a learner whose
    # score or inactivity crossed a line without hammering the database.
    "engagement.evaluate_alerts": {
        "task": "engagement.evaluate_alerts",
        "schedule": crontab(minute=5),
    },
    # Study-time profiles change slowly; nightly, after scoring, keeps send times fresh.
    "engagement.refresh_profiles": {
        "task": "engagement.refresh_profiles",
        "schedule": crontab(hour=3, minute=45),
    },
}
