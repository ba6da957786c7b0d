"""Gamification's tables, one module per sub-domain; import models from here.

XP is an append-only ledger (``XpTransaction``); every total (``LearnerGameProfile``, the
leaderboards, league points) is derived from it and can be rebuilt.
"""

from gamification.models.achievements import Achievement, AchievementCounter, AchievementUnlock
from gamification.models.leagues import League, LeagueMembership, LeagueTier, LeagueWeek
from gamification.models.levels import Level, LevelCurve, LevelScheme
from gamification.models.moments import Moment
from gamification.models.profile import LearnerGameProfile
from gamification.models.rewards import Reward, RewardGrant, RewardKind, RewardUse
from gamification.models.streaks import StreakDay, StreakMilestone, StreakMilestoneReached
from gamification.models.xp import XpAction, XpRefusal, XpTransaction

__all__ = [
    "Achievement",
    "AchievementCounter",
    "AchievementUnlock",
    "League",
    "LeagueMembership",
    "LeagueTier",
    "LeagueWeek",
    "LearnerGameProfile",
    "Level",
    "LevelCurve",
    "LevelScheme",
    "Moment",
    "Reward",
    "RewardGrant",
    "RewardKind",
    "RewardUse",
    "StreakDay",
    "StreakMilestone",
    "StreakMilestoneReached",
    "XpAction",
    "XpRefusal",
    "XpTransaction",
]
