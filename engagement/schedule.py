"""Beat entries for engagement, merged into CELERY_BEAT_SCHEDULE by the settings.

Each entry expires before its next run (`expire_seconds`, the key django-celery-beat's database
scheduler reads and turns into the message's `expires`): a run missed while the workers were
down is dropped, not queued up behind the next one.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Risk moves by the day (the model's labels are whole days of inactivity), so one
    # bulk pass a night, after the day has ended in most learners' timezones, is enough.
    "engagement.score_all": {
        "task": "engagement.score_all",
        "schedule": crontab(hour=2, minute=30),
        # Scoring everyone is the heaviest job of the night: not started by 08:30 UTC, it
        # would compete with the working day's dashboards; yesterday's scores stand until the
        # next night (or until staff press "Recalculate all").
        "options": {"expire_seconds": 6 * 3600},
    },
    # Alerts should reach staff the same working day; hourly catches a learner whose
    # score or inactivity crossed a line without hammering the database.
    "engagement.evaluate_alerts": {
        "task": "engagement.evaluate_alerts",
        "schedule": crontab(minute=5),
        # Each pass looks at everything afresh, so a late one is worthless once the next is
        # due: expire before the hour is up.
        "options": {"expire_seconds": 50 * 60},
    },
    # Study-time profiles change slowly; nightly, after scoring, keeps send times fresh.
    "engagement.refresh_profiles": {
        "task": "engagement.refresh_profiles",
        "schedule": crontab(hour=3, minute=45),
        # A day-old profile is still good; skip a missed night rather than run it by day.
        "options": {"expire_seconds": 6 * 3600},
    },
}
