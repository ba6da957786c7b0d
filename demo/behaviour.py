"""Realistic learner behaviour for the demo, as event envelopes in the public API's format.

Each learner follows one archetype; the events it yields go through the same ingestion
service that integrators use, so the dashboard, alerts and profiles see ordinary data.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ARCHETYPES = ("steady", "fading", "weekend", "binge", "never_started", "returning")
ARCHETYPE_WEIGHTS = (30, 22, 12, 12, 10, 14)
# Analytics' revenue and ratings: a share of learners pays for a course on their first day in
# it (a course's price, in EUR for learners in Europe, else USD), a share reviews it once they
# have completed a few lessons.
PAYING_SHARE = 0.4
PRICES = (29, 49, 79, 99)
REVIEWING_SHARE = 0.3
REVIEW_AFTER_LESSONS = 3


@dataclass(frozen=True)
class DemoLearner:
    """What the generator needs to know about one enrolment."""

    external_id: str
    timezone: str
    course: str
    lessons: tuple[str, ...]
    enrolled_on_day: int  # days before today
    archetype: str


def archetype_pick(rng: random.Random) -> str:
    """Draw an archetype with the demo's mix of behaviours."""
    return rng.choices(ARCHETYPES, weights=ARCHETYPE_WEIGHTS)[0]


def _active_on(archetype: str, days_ago: int, enrolled: int, rng: random.Random) -> bool:
    """Whether a learner of this archetype studies on the day `days_ago` days before today."""
    age = enrolled - days_ago  # days since enrolment
    if archetype == "steady":
        return rng.random() < 0.72
    if archetype == "fading":
        # Keen at first, then less and less, and silent for the last week or two.
        quit_after = max(6, int(enrolled * 0.55))
        return age < quit_after and rng.random() < 0.85 * (1 - age / quit_after) + 0.1
    if archetype == "binge":
        return (age // 4) % 3 == 0 and rng.random() < 0.9
    if archetype == "never_started":
        return age == 0 and rng.random() < 0.5
    if archetype == "returning":
        away = 10 <= days_ago <= 26
        return not away and rng.random() < 0.6
    return False  # weekend learners are handled by the caller


def learner_events(
    learner: DemoLearner, *, today: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """Yield the learner's events from enrolment until today, oldest first."""
    tz = ZoneInfo(learner.timezone)
    study_hour = rng.choice((7, 8, 12, 13, 18, 19, 20, 21, 22))
    device = rng.choice(("desktop", "desktop", "mobile", "tablet"))
    skill = {"fading": 0.5, "never_started": 0.55}.get(learner.archetype, 0.78)
    next_lesson = 0
    # What a learner pays and how they rate the course come from a generator of their own,
    # so the learning behaviour above replays as before.
    commerce = random.Random(f"{learner.external_id}-{learner.course}-commerce")
    buys = commerce.random() < PAYING_SHARE
    reviews = commerce.random() < REVIEWING_SHARE
    first_day = True
    for days_ago in range(learner.enrolled_on_day, -1, -1):
        local_day = (today - timedelta(days=days_ago)).astimezone(tz)
        if learner.archetype == "weekend":
            active = local_day.weekday() >= 5 and rng.random() < 0.85
        else:
            active = _active_on(learner.archetype, days_ago, learner.enrolled_on_day, rng)
        if not active:
            continue
        start = local_day.replace(
            hour=study_hour, minute=rng.randint(0, 59), second=0, microsecond=0
        ) + timedelta(minutes=rng.randint(-40, 40))
        if start > today:
            continue
        session = f"{learner.external_id}-{learner.course}-{days_ago}"
        moment = start
        steps: list[tuple[str, str | None, dict[str, Any]]] = [
            ("login", None, {}),
            ("session_start", None, {}),
            ("page_view", None, {"path": f"/courses/{learner.course}/"}),
        ]
        # Most study days revisit material; a new lesson is done on about a third of them,
        # so a course takes weeks, as real ones do. Binge and weekend days cover more.
        lessons_today = {
            "never_started": 0,
            "binge": rng.choice((1, 2, 3)),
            "weekend": rng.choice((0, 1, 2)),
        }.get(learner.archetype, int(rng.random() < 0.35))
        for _ in range(lessons_today):
            if next_lesson >= len(learner.lessons):
                break
            lesson = learner.lessons[next_lesson]
            steps.append(("lesson_started", lesson, {}))
            steps.append(("video_progress", lesson, {"percent": rng.choice((35, 60, 100))}))
            completes = rng.random() < (0.9 if learner.archetype != "fading" else 0.6)
            if completes:
                steps.append(("video_progress", lesson, {"percent": 100}))
                score = max(0, min(10, round(rng.gauss(skill * 10, 2))))
                steps.append(("quiz_submitted", lesson, {"score": score, "max_score": 10}))
                if score >= 6:
                    steps.append(("quiz_passed", lesson, {}))
                steps.append(("lesson_completed", lesson, {}))
                next_lesson += 1
        if first_day and buys:
            price = PRICES[sum(map(ord, learner.course)) % len(PRICES)]
            currency = "EUR" if learner.timezone.startswith("Europe/") else "USD"
            steps.append(("purchase", None, {"amount": price, "currency": currency}))
        first_day = False
        if reviews and next_lesson >= REVIEW_AFTER_LESSONS:
            rating = max(1, min(5, round(commerce.gauss(2 + 3 * skill, 0.8))))
            steps.append(("review_posted", None, {"rating": rating}))
            reviews = False
        if rng.random() < 0.15:
            steps.append(("discussion_post", None, {}))
        if rng.random() < 0.08:
            steps.append(("resource_download", None, {}))
        if rng.random() < 0.05:
            steps.append(("live_session_attended", None, {}))
        elif learner.archetype == "fading" and rng.random() < 0.1:
            steps.append(("live_session_missed", None, {}))
        duration = 0
        for n, (event_type, lesson, properties) in enumerate(steps):
            gap = rng.randint(1, 9)
            moment += timedelta(minutes=gap)
            duration += gap * 60
            if moment > today:
                return
            yield _envelope(learner, session, n, event_type, lesson, moment, device, properties)
        moment += timedelta(minutes=rng.randint(1, 5))
        if moment <= today:
            yield _envelope(
                learner,
                session,
                len(steps),
                "session_end",
                None,
                moment,
                device,
                {"duration_seconds": duration},
            )
        if next_lesson >= len(learner.lessons):
            yield _envelope(
                learner, session, len(steps) + 1, "course_completed", None, moment, device, {}
            )
            return


def _envelope(
    learner: DemoLearner,
    session: str,
    n: int,
    event_type: str,
    lesson: str | None,
    moment: datetime,
    device: str,
    properties: dict[str, Any],
) -> dict[str, Any]:
    envelope = {
        "id": f"{session}-{n}",
        "type": event_type,
        "user": learner.external_id,
        "course": learner.course,
        "occurred_at": moment,
        "session_id": session,
        "device": device,
        "platform": "web" if device == "desktop" else "app",
        "properties": properties,
    }
    if lesson is not None:
        envelope["lesson"] = lesson
    return envelope
