"""Thin Celery entry points for gamification: fetch by id, call one service, return."""

from celery import shared_task

from gamification.services.achievements import (
    achievements_evaluate_all,
    achievements_rarity_recompute,
)
from gamification.services.leaderboards import leaderboards_ensure_built
from gamification.services.leagues import leagues_rollover
from gamification.services.streaks import streak_at_risk_moments_record, streaks_settle

# --- streaks and achievements (9c) ------------------------------------------------------------


@shared_task(name="gamification.settle_streaks", acks_late=True)
def settle_streaks() -> int:
    """Spend freezes for the days that just ended without activity; return freezes spent.

    Idempotent (a redelivered task finds the days already frozen).
    """
    return streaks_settle().freezes_spent


@shared_task(name="gamification.record_streak_at_risk_moments", acks_late=True)
def record_streak_at_risk_moments() -> int:
    """Tell learners whose evening has come that today's activity is still missing.

    Returns the moments recorded; once per learner and local day (dedupe key).
    """
    return streak_at_risk_moments_record()


@shared_task(name="gamification.evaluate_achievements", acks_late=True)
def evaluate_achievements() -> int:
    """Unlock what moved without an event (synced completions, staff XP); return unlocks."""
    return achievements_evaluate_all()


@shared_task(name="gamification.recompute_achievement_rarity", acks_late=True)
def recompute_achievement_rarity() -> int:
    """Recompute each achievement's share of holders and rarity; return how many changed."""
    return achievements_rarity_recompute()


# --- leaderboards and weekly leagues (9d) -----------------------------------------------------


@shared_task(name="gamification.ensure_leaderboards", acks_late=True)
def ensure_leaderboards() -> bool:
    """Build the Redis leaderboards from the ledger if Redis holds none; return whether built."""
    return leaderboards_ensure_built()


@shared_task(name="gamification.close_league_weeks", acks_late=True)
def close_league_weeks() -> int:
    """Close every league week that is due (promotions, demotions, results); return how many.

    Idempotent: a redelivered or overlapping run finds the week claimed or closed.
    """
    return len(leagues_rollover())
