"""Beat entries for accounts, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Expired sessions pile up in the database; once a night at a quiet hour is plenty.
    "accounts.clear_expired_sessions": {
        "task": "accounts.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=17),
    },
}
