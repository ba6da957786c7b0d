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
    # What reads the aggregates is its own task a quarter of an hour later (the refresh takes
    # seconds): a slow or failing forecast never holds the aggregates back, and the health
    # page shows each one's last success. 01:45 rather than 02:00 so that on Mondays the
    # anomalies it stores are there before the weekly insights read them at 02:00.
    "analytics.derive": {
        "task": "analytics.derive",
        "schedule": crontab(hour=1, minute=45),
        "options": {"expire_seconds": 12 * 3600},
    },
    # The weekly insights compare the Monday-to-Sunday week just ended with the one before:
    # once a week, on Monday after the night's aggregates and anomalies, so staff find them
    # at the start of their week. A rerun of the week replaces its insights.
    "analytics.weekly_insights": {
        "task": "analytics.weekly_insights",
        "schedule": crontab(hour=2, minute=0, day_of_week="mon"),
        # A week's insights are still worth writing later that day, not after the next week.
        "options": {"expire_seconds": 20 * 3600},
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
    # the 01:30 refresh and the 01:45 derive have counted yesterday (with time to spare for a
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
