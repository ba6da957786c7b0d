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
    live_session      the title of the next live session of the course the learner registered
                      for ("" when none; the no-show reminder's is the session at hand)
    live_session_starts  when it starts, in the learner's timezone ("Tue 8 Dec, 18:00 CET")
    cta_url           the tracked call-to-action link (added per delivery)
    unsubscribe_url   the one-click unsubscribe page (added per delivery)
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from accounts.models import User
from core.localtime import zone
from engagement.selectors.scores import current_scores_of
from gamification.selectors.streaks import streak_states
from gamification.selectors.summary import learner_standings
from learning.selectors import (
    course_list,
    lesson_list,
    lesson_progress_completed,
    next_live_sessions,
)

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
    "live_session",
    "live_session_starts",
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
        "live_session": "Office hours: pandas questions",
        "live_session_starts": "Tue 8 Dec, 18:00 CET",
        "cta_url": "https://stride.example/me/",
        "unsubscribe_url": "https://stride.example/unsubscribe/…",
    }


def learner_context(*, user: User, course_id: int | None = None) -> dict[str, Any]:
    """The context of one learner, about `course_id` or else the course driving their risk."""
    return learner_contexts({user.pk: course_id})[user.pk]


def learner_contexts(
    course_of: Mapping[int, int | None], *, now: datetime.datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The contexts of many learners at once (user id -> the course the message is about, or
    None for the course driving their risk) as of `now`, in a fixed number of queries
    whatever their number: users, current scores, lessons and progress, streaks, XP and
    achievements, the next live sessions."""
    ids = sorted(course_of)
    if not ids:
        return {}
    users = {
        row["id"]: row
        for row in User.objects.filter(pk__in=ids).values("id", "first_name", "timezone")
    }
    scores = current_scores_of(user_ids=ids)
    chosen: dict[int, Any] = {}
    courses: dict[int, Any] = {}
    for user_id in ids:
        mine = scores.get(user_id, [])
        wanted = course_of[user_id]
        score = next((s for s in mine if s.course_id == wanted), None) if wanted else None
        if score is None and wanted is None and mine:
            score = mine[0]  # riskiest first: the course driving the risk
        chosen[user_id] = score
        if score is not None and score.course_id:
            courses[user_id] = score.course
    missing = {course_of[u] for u in ids if u not in courses and course_of[u]}
    if missing:
        by_id = {c.pk: c for c in course_list().filter(pk__in=missing)}
        for user_id in ids:
            if user_id not in courses and course_of[user_id] in by_id:
                courses[user_id] = by_id[course_of[user_id]]
    resume = _lessons_to_resume({u: c.pk for u, c in courses.items()})
    streaks = streak_states(user_ids=ids)
    standings = learner_standings(user_ids=ids)
    sessions = next_live_sessions(user_ids=ids, now=now or timezone.now())
    out = {}
    for user_id in ids:
        score, course, streak = chosen[user_id], courses.get(user_id), streaks.get(user_id)
        standing = standings[user_id]
        session = sessions.get((user_id, course.pk)) if course else None
        out[user_id] = {
            "first_name": (users.get(user_id) or {}).get("first_name") or "there",
            "course": course.title if course else "",
            "lesson": resume.get(user_id, ""),
            "streak_days": streak.current if streak else 0,
            "freezes": streak.freezes_held if streak else 0,
            "at_risk_today": streak.at_risk_today if streak else False,
            "xp": standing.total_xp,
            "level": standing.level.name,
            "xp_to_next": standing.level.xp_to_next,
            "next_level": standing.level.next_name or "",
            "next_achievement": standing.next_achievement,
            "achievement_percent": standing.achievement_percent,
            "risk": score.drop_off_risk if score else None,
            "risk_level": score.level if score else "",
            "drivers": [d.get("text", "") for d in (score.raising_drivers if score else [])][:3],
            "live_session": session.title if session else "",
            "live_session_starts": (
                _local_start(session.starts_at, (users.get(user_id) or {}).get("timezone"))
                if session
                else ""
            ),
        }
    return out


def _local_start(at: datetime.datetime, tz_name: str | None) -> str:
    """A start time as the learner reads it: "Tue 8 Dec, 18:00 CET" in their timezone."""
    local = at.astimezone(zone(tz_name or "UTC"))
    return f"{local:%a} {local.day} {local:%b, %H:%M} {local.tzname()}"


def _lessons_to_resume(course_of: Mapping[int, int]) -> dict[int, str]:
    """Per learner, the first lesson (by position) of their course they have not completed
    (two queries)."""
    if not course_of:
        return {}
    lessons: dict[int, list[tuple[int, str]]] = {}
    for course_id, lesson_id, title in (
        lesson_list()
        .filter(course_id__in=set(course_of.values()))
        .order_by("course_id", "position", "id")
        .values_list("course_id", "id", "title")
    ):
        lessons.setdefault(course_id, []).append((lesson_id, title))
    done = set(
        lesson_progress_completed(
            user_ids=list(course_of),
            lesson_ids=[lesson_id for rows in lessons.values() for lesson_id, _ in rows],
        )
    )
    out = {}
    for user_id, course_id in course_of.items():
        for lesson_id, title in lessons.get(course_id, []):
            if (user_id, lesson_id) not in done:
                out[user_id] = title
                break
    return out
