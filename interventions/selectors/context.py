"""The plain-data context a template renders with: what a message may say about a learner.

Everything here is data the learner would recognise as their own (first name, course, lesson
to resume, streak, XP, level, next achievement, the risk drivers in plain words); never their
email or anything about someone else. The CTA and unsubscribe links are added per delivery.

Documented keys (the admin's help and the preview list them):

    first_name        the learner's first name, "there" when unknown
    course            the course's title ("" when the message is not about one course)
    lesson            the first lesson of the course not completed yet ("" when none)
    streak_days       the live streak's length in days (0 when none)
    freezes           streak freezes held
    at_risk_today     the streak is alive but nothing came yet today (True/False)
    xp                total XP
    level             level name ("Novice" ... "Grandmaster")
    xp_to_next        XP still needed for the next level (None at the top)
    next_level        the next level's name ("" at the top)
    next_achievement  the locked achievement nearest to unlocking ("" when none)
    achievement_percent  how far towards it, 0-100
    risk              drop-off risk 0-100 of the course's latest score (None when unscored)
    risk_level        low / medium / high / critical ("" when unscored)
    drivers           up to three sentences of what raises the risk ("No activity for 12 days")
    cta_url           the tracked call-to-action link (added per delivery)
    unsubscribe_url   the one-click unsubscribe page (added per delivery)
"""

from __future__ import annotations

from typing import Any

from accounts.models import User
from engagement.selectors.learners import learner_detail
from gamification.selectors.streaks import streak_state
from gamification.selectors.summary import closest_first, learner_achievements, learner_header
from learning.selectors import course_list, lesson_list

CONTEXT_KEYS: tuple[str, ...] = (
    "first_name",
    "course",
    "lesson",
    "streak_days",
    "freezes",
    "at_risk_today",
    "xp",
    "level",
    "xp_to_next",
    "next_level",
    "next_achievement",
    "achievement_percent",
    "risk",
    "risk_level",
    "drivers",
    "cta_url",
    "unsubscribe_url",
)


def sample_context() -> dict[str, Any]:
    """A made-up learner's context: what the admin validates templates against."""
    return {
        "first_name": "Ada",
        "course": "Python for Data Analysis",
        "lesson": "Reading CSV files",
        "streak_days": 6,
        "freezes": 1,
        "at_risk_today": True,
        "xp": 1250,
        "level": "Apprentice",
        "xp_to_next": 250,
        "next_level": "Explorer",
        "next_achievement": "Knowledge Seeker",
        "achievement_percent": 80,
        "risk": 72,
        "risk_level": "high",
        "drivers": ["No activity for 9 days (the course's typical gap is 2 days)"],
        "cta_url": "https://stride.example/me/",
        "unsubscribe_url": "https://stride.example/unsubscribe/…",
    }


def learner_context(*, user: User, course_id: int | None = None) -> dict[str, Any]:
    """The context of one learner, about `course_id` or else the course driving their risk.

    About ten queries, whatever the learner's history: the risk (engagement's learner page
    data), the lesson to resume, the streak, XP and level, achievements.
    """
    detail = learner_detail(user=user)
    score = detail.score
    if course_id is not None:
        score = next((s for s in detail.scores if s.course_id == course_id), None)
    course = score.course if score is not None and score.course_id else None
    if course is None and course_id is not None:
        course = _course(course_id)
    header = learner_header(user_id=user.pk)
    streak = streak_state(user_id=user.pk)
    nearest = closest_first(learner_achievements(user_id=user.pk))
    return {
        "first_name": user.first_name or "there",
        "course": course.title if course else "",
        "lesson": _lesson_to_resume(user.pk, course.pk) if course else "",
        "streak_days": streak.current,
        "freezes": streak.freezes_held,
        "at_risk_today": streak.at_risk_today,
        "xp": header.total_xp,
        "level": header.level.name,
        "xp_to_next": header.level.xp_to_next,
        "next_level": header.level.next_name or "",
        "next_achievement": nearest[0].name if nearest else "",
        "achievement_percent": nearest[0].percent if nearest else 0,
        "risk": score.drop_off_risk if score else None,
        "risk_level": score.level if score else "",
        "drivers": [d.get("text", "") for d in (score.raising_drivers if score else [])][:3],
    }


def _course(course_id: int) -> Any:
    return course_list().filter(pk=course_id).first()


def _lesson_to_resume(user_id: int, course_id: int) -> str:
    """The first lesson of the course (by position) the learner has not completed."""
    lesson = (
        lesson_list()
        .filter(course_id=course_id)
        .exclude(progress__user_id=user_id, progress__completed_at__isnull=False)
        .order_by("position", "id")
        .values_list("title", flat=True)
        .first()
    )
    return lesson or ""
