"""Beat entries for campaigns, merged into CELERY_BEAT_SCHEDULE by the settings."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Campaign schedules are rows staff edit at run time, so beat only asks every minute what
    # is due (a one-time send, a recurrence, drip steps) and picks up chunks a dead worker left.
    "campaigns.dispatch_due": {
        "task": "campaigns.dispatch_due",
        "schedule": crontab(),
        "options": {"expire_seconds": 50},
    },
    # Experiments with the auto-winner on are read hourly: the rule needs days of data, and
    # results over millions of exposures take a second or two.
    "campaigns.experiments_decide": {
        "task": "campaigns.experiments_decide",
        "schedule": crontab(minute=17),
        "options": {"expire_seconds": 3000},
    },
    # Each started experiment's stored outcomes, brought up to date: results then compute
    # live only the learners with a minute or so of news (a refresh is idempotent).
    "campaigns.refresh_experiment_outcomes": {
        "task": "campaigns.refresh_experiment_outcomes",
        "schedule": crontab(),
        "options": {"expire_seconds": 50},
    },
}
