"""Beat entries for accounts, merged into CELERY_BEAT_SCHEDULE by the settings.

Each entry expires before its next run (`expire_seconds`, the key django-celery-beat's database
scheduler reads and turns into the message's `expires`): a run missed while the workers were
down is dropped, not queued up behind the next one.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Expired sessions pile up in the database; once a night at a quiet hour is plenty.
    "accounts.clear_expired_sessions": {
        "task": "accounts.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=17),
        # A cleanup that missed its night waits for the next one rather than deleting in bulk
        # during the day's traffic; nothing is lost, the next run deletes the same rows.
        "options": {"expire_seconds": 6 * 3600},
    },
    # Spent one-time sign-in links and ended throttle windows (the database throttle's, when
    # there is no Redis): rows that only grow otherwise.
    "accounts.delete_spent_rows": {
        "task": "accounts.delete_spent_rows",
        "schedule": crontab(hour=3, minute=29),
        "options": {"expire_seconds": 6 * 3600},
    },
}
