"""The rewards catalogue and streak milestones a new Stride starts with (read by data migrations).

Plain data, no models: the data migration `default_rewards_and_milestones` reads it through
`apps.get_model`, so that the defaults can change here without touching a migration's code.
"""

STREAK_FREEZE = "streak_freeze"
FREEZES_MAX_HELD = 2  # Duolingo's rule: at most two freezes equipped at once

REWARDS: tuple[dict, ...] = (
    {
        "code": STREAK_FREEZE,
        "kind": "streak_freeze",
        "name": "Streak freeze",
        "description": "Covers one missed day so that the streak lives on; spent automatically.",
        "value": "",
        "max_held": FREEZES_MAX_HELD,
    },
    {
        "code": "discount-10",
        "kind": "discount_code",
        "name": "10% off your next course",
        "description": "A discount code for the course shop.",
        "value": "STRIDE10",
        "max_held": None,
    },
    {
        "code": "early-access",
        "kind": "early_access",
        "name": "Early access to new courses",
        "description": "See new courses a week before everyone else.",
        "value": "new-course-previews",
        "max_held": 1,
    },
)

# Milestones pay XP through the `streak_milestone` action and give streak freezes (capped at
# what a learner may hold): the longer the streak, the bigger the reward.
MILESTONES: tuple[dict, ...] = (
    {"days": 7, "name": "One week", "xp_reward": 100, "freezes_reward": 1},
    {"days": 14, "name": "Two weeks", "xp_reward": 200, "freezes_reward": 1},
    {"days": 30, "name": "One month", "xp_reward": 500, "freezes_reward": 1},
    {"days": 60, "name": "Two months", "xp_reward": 1000, "freezes_reward": 1},
    {"days": 100, "name": "One hundred days", "xp_reward": 2000, "freezes_reward": 2},
    {"days": 365, "name": "One year", "xp_reward": 5000, "freezes_reward": 2},
)
