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
    # The daily executive summary is read at the start of the working day; 07:00 UTC is after
    # the 01:30 refresh and the 02:00 derive have counted yesterday (with time to spare for a
    # slow night), and early morning in Europe, before the Americas wake.
    "analytics.daily_summary": {
        "task": "analytics.send_reports",
        "schedule": crontab(hour=7, minute=0),
        "args": ("daily_summary",),
        # A summary a day late is still worth reading; the next one is due in 24 hours.
        "options": {"expire_seconds": 12 * 3600},
    },
    # The weekly growth report closes the week on Monday morning, half an hour after the
    # daily summary and well after the Monday 02:00 weekly insights, so both are in.
    "analytics.weekly_growth": {
        "task": "analytics.send_reports",
        "schedule": crontab(hour=7, minute=30, day_of_week=1),
        "args": ("weekly_growth",),
        "options": {"expire_seconds": 24 * 3600},
    },
    # Star performers read every enrollment's activity in one bulk pass, as scoring does:
    # nightly, once the day has ended in most timezones, and after the risk scoring (02:30)
    # so the two heaviest reads of the night do not compete; segments move by the week, so a
    # missed night waits for the next one.
    "analytics.performers": {
        "task": "analytics.performers",
        "schedule": crontab(hour=3, minute=15),
        "options": {"expire_seconds": 12 * 3600},
    },
}
