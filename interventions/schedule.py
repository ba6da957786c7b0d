"""Beat entries for interventions, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Deferred messages (quiet hours, retries) become due on the minute; queueing also starts
    # a send on commit, so this is what picks up the waiting ones and stale claims.
    "interventions.send_due": {
        "task": "interventions.send_due",
        "schedule": crontab(),
        "options": {"expire_seconds": 50},
    },
}
