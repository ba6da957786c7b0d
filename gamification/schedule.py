"""Beat entries for gamification, merged into CELERY_BEAT_SCHEDULE by the settings.

Each entry expires before its next run (`expire_seconds`, the key django-celery-beat's database
scheduler reads and turns into the message's `expires`): a run missed while the workers were
down is dropped, not queued up behind the next one.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # --- streaks and achievements (9c) ---
    # A learner's day ends at their own midnight, which comes every hour somewhere: hourly
    # spends the freeze within the hour after a missed day ends (a learner checking in the
    # morning sees it used), and ends streaks that no freeze can save.
    "gamification.settle_streaks": {
        "task": "gamification.settle_streaks",
        "schedule": crontab(minute=2),
        # The next run does the same work (it settles every day that has ended): a late one
        # is worthless once the next is due.
        "options": {"expire_seconds": 50 * 60},
    },
    # "Streak at risk" goes out from 18:00 learner-local; hourly reaches each timezone's
    # evening within the hour, and the dedupe key keeps it to once a learner a day.
    "gamification.record_streak_at_risk_moments": {
        "task": "gamification.record_streak_at_risk_moments",
        "schedule": crontab(minute=20),
        "options": {"expire_seconds": 50 * 60},
    },
    # Most unlocks happen as events arrive; the nightly sweep catches the rest (completions
    # synced through the API, staff XP grants), at a quiet hour before rarity is counted.
    "gamification.evaluate_achievements": {
        "task": "gamification.evaluate_achievements",
        "schedule": crontab(hour=3, minute=50),
        "options": {"expire_seconds": 6 * 3600},
    },
    # Rarity is a share of all learners and moves slowly: nightly, after the sweep.
    "gamification.recompute_achievement_rarity": {
        "task": "gamification.recompute_achievement_rarity",
        "schedule": crontab(hour=4, minute=20),
        "options": {"expire_seconds": 6 * 3600},
    },
    # --- leaderboards and weekly leagues (9d) ---
    # Redis loses its boards on a restart without persistence (pages then read the ledger,
    # slowly): every 10 minutes one GET sees whether they are there, and builds them if not.
    "gamification.ensure_leaderboards": {
        "task": "gamification.ensure_leaderboards",
        "schedule": crontab(minute="*/10"),
        "options": {"expire_seconds": 9 * 60},
    },
    # A league week closes once every timezone has finished its Sunday (Monday 12:00 UTC)
    # plus an hour's grace: Monday 13:00 UTC. Hourly closes it within the hour after and
    # catches up on a run missed while the workers were down; the other hours it finds
    # nothing due in one query. The close claims the week, so overlapping runs close it once.
    "gamification.close_league_weeks": {
        "task": "gamification.close_league_weeks",
        "schedule": crontab(minute=7),
        # Each run closes whatever is due: a late run is worthless once the next is due.
        "options": {"expire_seconds": 50 * 60},
    },
}
