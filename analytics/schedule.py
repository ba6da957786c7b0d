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
    # What reads the aggregates is its own task half an hour later (the refresh takes
    # seconds): a slow or failing forecast never holds the aggregates back, and the health
    # page shows each one's last success.
    "analytics.derive": {
        "task": "analytics.derive",
        "schedule": crontab(hour=2, minute=0),
        "options": {"expire_seconds": 12 * 3600},
    },
    # The health page's 24-hour ingestion rate adds up hourly counts instead of counting a
    # day of events on every view; a few minutes after each hour closes is fresh enough, and
    # every 10 minutes also catches up quickly after a worker outage.
    "analytics.count_ingestion": {
        "task": "analytics.count_ingestion",
        "schedule": crontab(minute="*/10"),
        # Each run counts every hour still missing: a late one is worthless once the next is due.
        "options": {"expire_seconds": 9 * 60},
    },
    # No-show risk moves with what happens close to a session (a new registration, a missed
    # session yesterday, last night's drop-off score), and a reminder must go out hours before
    # the start: hourly over the next 48 hours keeps every prediction under an hour old.
    "analytics.predict_no_shows": {
        "task": "analytics.predict_no_shows",
        "schedule": crontab(minute=20),
        "options": {"expire_seconds": 50 * 60},
    },
    # The model learns from whole weeks of attended and missed sessions; retraining weekly
    # (Sunday night, after the nightly jobs) is as often as its evidence changes much.
    "analytics.train_no_show_model": {
        "task": "analytics.train_no_show_model",
        "schedule": crontab(day_of_week="sun", hour=3, minute=30),
        "options": {"expire_seconds": 12 * 3600},
    },
}
