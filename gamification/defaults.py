"""The default XP actions, levels and level curve, as plain data for the data migrations.

Migrations must not import app models, so the defaults live here as tuples of dicts that a
migration (and nothing else at run time) reads. Changing a default here changes only new
installations; staff edit the live catalogue in the admin.

Actions with `event_types` are earned by ingested behaviour events (types from engagement's
catalogue, checked by the tests); those without are paid by gamification's own services
(streaks, achievements, leagues) or by integrators through POST /api/v1/xp/awards/.
Anti-cheat defaults follow Level Up XP: 10 awards per 60 s, 180 s before the same action on
the same object pays again. Actions paid by services are exempt: their services already pay
each reason once, by idempotency key.
"""

from __future__ import annotations

from typing import Any

# Service-paid actions: no burst limit, no interval, paid once per reference (the day, the
# achievement, the milestone) on top of the services' own idempotency keys.
_SERVICE = {
    "event_types": [],
    "min_interval_seconds": 0,
    "burst_limit": None,
    "repeat": "once_per_reference",
}

XP_ACTIONS: tuple[dict[str, Any], ...] = (
    # --- signing in and studying ----------------------------------------------------------
    {
        "code": "welcome",
        "name": "First sign-in",
        "description": "The learner's very first sign-in.",
        "amount": 25,
        "event_types": ["login"],
        "repeat": "once",
    },
    {
        "code": "daily_login",
        "name": "Daily sign-in",
        "description": "Signing in, once a day.",
        "amount": 10,
        "event_types": ["login"],
        "daily_cap": 1,
    },
    {
        "code": "study_session",
        "name": "Study session",
        "description": "A study session of at least 10 minutes.",
        "amount": 15,
        "event_types": ["session_end"],
        "condition": "long_session",
        "daily_cap": 3,
    },
    # --- lessons and videos ---------------------------------------------------------------
    {
        "code": "lesson_started",
        "name": "Lesson started",
        "description": "Opening a lesson for the first time.",
        "amount": 10,
        "event_types": ["lesson_started"],
        "repeat": "once_per_reference",
        "daily_cap": 20,
    },
    {
        "code": "lesson_completed",
        "name": "Lesson completed",
        "description": "Finishing a lesson (once per lesson).",
        "amount": 50,
        "event_types": ["lesson_completed"],
        "repeat": "once_per_reference",
        "daily_cap": 30,
    },
    {
        "code": "first_lesson",
        "name": "First lesson completed",
        "description": "Finishing one's very first lesson.",
        "amount": 100,
        "event_types": ["lesson_completed"],
        "repeat": "once",
    },
    {
        "code": "video_watched",
        "name": "Video watched",
        "description": "Watching a lesson video to at least 90%.",
        "amount": 20,
        "event_types": ["video_progress"],
        "condition": "video_finished",
        "repeat": "once_per_reference",
        "daily_cap": 20,
    },
    # --- quizzes and assignments ----------------------------------------------------------
    {
        "code": "quiz_attempted",
        "name": "Quiz attempted",
        "description": "Submitting a quiz.",
        "amount": 10,
        "event_types": ["quiz_submitted"],
        "daily_cap": 20,
    },
    {
        "code": "quiz_passed",
        "name": "Quiz passed",
        "description": "Passing a quiz (once per quiz).",
        "amount": 100,
        "event_types": ["quiz_passed", "quiz_submitted"],
        "condition": "quiz_passed",
        "repeat": "once_per_reference",
    },
    {
        "code": "quiz_perfect",
        "name": "Perfect quiz",
        "description": "Full marks on a quiz (once per quiz).",
        "amount": 150,
        "event_types": ["quiz_submitted"],
        "condition": "quiz_perfect",
        "repeat": "once_per_reference",
    },
    {
        "code": "first_quiz_passed",
        "name": "First quiz passed",
        "description": "Passing one's very first quiz.",
        "amount": 50,
        "event_types": ["quiz_passed", "quiz_submitted"],
        "condition": "quiz_passed",
        "repeat": "once",
    },
    {
        "code": "assignment_submitted",
        "name": "Assignment handed in",
        "description": "Handing in an assignment (once per assignment).",
        "amount": 40,
        "event_types": ["assignment_submitted"],
        "repeat": "once_per_reference",
        "daily_cap": 10,
    },
    # --- courses --------------------------------------------------------------------------
    {
        "code": "course_completed",
        "name": "Course completed",
        "description": "Completing a course (once per course).",
        "amount": 500,
        "event_types": ["course_completed"],
        "repeat": "once_per_reference",
    },
    {
        "code": "first_course_completed",
        "name": "First course completed",
        "description": "Completing one's very first course.",
        "amount": 250,
        "event_types": ["course_completed"],
        "repeat": "once",
    },
    {
        "code": "review_posted",
        "name": "Course reviewed",
        "description": "Reviewing a course (once per course).",
        "amount": 25,
        "event_types": ["review_posted"],
        "repeat": "once_per_reference",
        "daily_cap": 5,
    },
    {
        "code": "first_review",
        "name": "First review",
        "description": "Writing one's very first course review.",
        "amount": 50,
        "event_types": ["review_posted"],
        "repeat": "once",
    },
    # --- community ------------------------------------------------------------------------
    {
        "code": "discussion_post",
        "name": "Discussion started",
        "description": "Starting a discussion thread.",
        "amount": 30,
        "event_types": ["discussion_post"],
        "daily_cap": 5,
    },
    {
        "code": "discussion_reply",
        "name": "Discussion reply",
        "description": "Replying in a discussion.",
        "amount": 15,
        "event_types": ["discussion_reply"],
        "daily_cap": 10,
    },
    {
        "code": "first_discussion_post",
        "name": "First discussion",
        "description": "Starting one's very first discussion thread.",
        "amount": 50,
        "event_types": ["discussion_post"],
        "repeat": "once",
    },
    {
        "code": "resource_download",
        "name": "Resource downloaded",
        "description": "Downloading a course resource (once per resource).",
        "amount": 5,
        "event_types": ["resource_download"],
        "repeat": "once_per_reference",
        "daily_cap": 10,
    },
    # --- live sessions --------------------------------------------------------------------
    {
        "code": "live_session_attended",
        "name": "Live session attended",
        "description": "Attending a live session (once per session).",
        "amount": 60,
        "event_types": ["live_session_attended"],
        "repeat": "once_per_reference",
        "daily_cap": 5,
    },
    {
        "code": "first_live_session",
        "name": "First live session",
        "description": "Attending one's very first live session.",
        "amount": 50,
        "event_types": ["live_session_attended"],
        "repeat": "once",
    },
    # --- paid by gamification's services --------------------------------------------------
    {
        **_SERVICE,
        "code": "daily_streak",
        "name": "Streak day",
        "description": "Another day of the learner's streak (paid by the streaks service).",
        "amount": 20,
    },
    {
        **_SERVICE,
        "code": "streak_milestone",
        "name": "Streak milestone",
        "description": "A streak milestone reached (the milestone sets the amount).",
        "amount": 100,
    },
    {
        **_SERVICE,
        "code": "achievement_unlocked",
        "name": "Achievement unlocked",
        "description": "An achievement unlocked (the achievement sets the amount).",
        "amount": 200,
    },
    {
        **_SERVICE,
        "code": "league_promoted",
        "name": "League promotion",
        "description": "Promoted to a higher league at the end of a week.",
        "amount": 100,
    },
    # --- sent by integrators --------------------------------------------------------------
    {
        "code": "bonus",
        "name": "Bonus",
        "description": "XP awarded by the learning platform for something of its own "
        "(POST /api/v1/xp/awards/ with an amount).",
        "amount": 10,
        "event_types": [],
        "min_interval_seconds": 0,
        "daily_cap": 50,
    },
)

# Ten levels from Novice to Grandmaster; thresholds come from the curve below.
LEVEL_NAMES: tuple[str, ...] = (
    "Novice",
    "Apprentice",
    "Explorer",
    "Scholar",
    "Achiever",
    "Adept",
    "Expert",
    "Master",
    "Sage",
    "Grandmaster",
)

# Level Up XP's geometric curve: level 2 at `base`, each next at base + previous x factor.
# With these amounts one course (lessons, quizzes, streak days) reaches about level 5, and
# Grandmaster (18,729 XP) takes seven or eight.
LEVEL_SCHEME: dict[str, Any] = {"curve": "snowball", "base": 250, "factor": "1.5"}
# The thresholds that curve gives (gamification.services.levels.level_thresholds; a test
# checks that they agree), written out because a migration may not import the services.
LEVEL_THRESHOLDS: tuple[int, ...] = (0, 250, 625, 1188, 2032, 3298, 5197, 8046, 12319, 18729)
