"""Builders for engagement tests: learners, courses, enrollments, event histories and scores.

Events are written with bulk_create, as ingestion stores them, without its follow-ups (XP,
progress): tests of rules and profiles only need the history itself.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils import timezone

from accounts.models import User
from engagement.models import EngagementScore, Event, ScoringRun
from learning.models import Course, Enrollment, Lesson

_seq = itertools.count(1)

EventSpec = (
    tuple[str, datetime.datetime]
    | tuple[str, datetime.datetime, dict[str, Any]]
    | tuple[str, datetime.datetime, dict[str, Any], dict[str, Any]]
)


def make_user(
    *, email: str | None = None, tz: str = "UTC", external_id: str | None = None, **extra: Any
) -> User:
    """A learner (student) with a unique email and external id."""
    n = next(_seq)
    return User.objects.create_user(
        email=email or f"learner{n}@example.com",
        password="pw-learner-1234",
        timezone=tz,
        external_id=external_id or f"u{n}",
        **extra,
    )


def make_course(*, external_id: str | None = None, title: str = "", **extra: Any) -> Course:
    n = next(_seq)
    return Course.objects.create(
        external_id=external_id or f"c{n}", title=title or f"Course {n}", **extra
    )


def make_lesson(course: Course, *, position: int = 0, **extra: Any) -> Lesson:
    n = next(_seq)
    return Lesson.objects.create(
        course=course, external_id=f"l{n}", title=f"Lesson {n}", position=position, **extra
    )


def make_enrollment(
    user: User,
    course: Course,
    *,
    enrolled_at: datetime.datetime | None = None,
    status: str = Enrollment.Status.ACTIVE,
) -> Enrollment:
    return Enrollment.objects.create(
        user=user, course=course, enrolled_at=enrolled_at or timezone.now(), status=status
    )


def make_events(
    user: User,
    specs: Iterable[EventSpec],
    *,
    course: Course | None = None,
    lesson: Lesson | None = None,
    source: str = "test",
) -> list[Event]:
    """Store events of `user` from (type, occurred_at[, properties[, field overrides]]) tuples.

    `course` / `lesson` apply to every event unless an override dict names its own, e.g.
    ``("video_progress", t, {"percent": 40}, {"lesson": other_lesson})``.
    """
    events = []
    for spec in specs:
        event_type, occurred_at = spec[0], spec[1]
        properties = spec[2] if len(spec) > 2 else {}
        overrides = spec[3] if len(spec) > 3 else {}
        fields: dict[str, Any] = {"course": course, "lesson": lesson, **overrides}
        events.append(
            Event(
                source=source,
                client_id=f"e{next(_seq)}",
                type=event_type,
                user=user,
                occurred_at=occurred_at,
                properties=properties,
                **fields,
            )
        )
    return Event.objects.bulk_create(events)


def make_run(
    as_of: datetime.date,
    *,
    status: str = ScoringRun.Status.DONE,
    finished_at: datetime.datetime | None = None,
) -> ScoringRun:
    """A scoring run as of a date; done runs finish on the night after `as_of` by default."""
    if finished_at is None and status == ScoringRun.Status.DONE:
        finished_at = datetime.datetime.combine(
            as_of + datetime.timedelta(days=1), datetime.time(3), tzinfo=datetime.UTC
        )
    return ScoringRun.objects.create(
        as_of=as_of, status=status, finished_at=finished_at, started_at=finished_at
    )


def level_of(risk: int) -> str:
    """The level a risk falls into (the cut-offs tests use; the model has its own)."""
    if risk >= 80:
        return EngagementScore.Level.CRITICAL
    if risk >= 60:
        return EngagementScore.Level.HIGH
    if risk >= 35:
        return EngagementScore.Level.MEDIUM
    return EngagementScore.Level.LOW


def make_score(
    run: ScoringRun,
    user: User,
    risk: int,
    *,
    as_of: datetime.date | None = None,
    level: str | None = None,
    drivers: Sequence[Any] = (),
) -> EngagementScore:
    """A learner's score in `run`, with weekly/monthly risk derived from `risk`."""
    score = EngagementScore.objects.create(
        run=run,
        user=user,
        as_of=as_of or run.as_of,
        drop_off_risk=risk,
        weekly_risk=max(0, risk - 10),
        monthly_risk=min(100, risk + 5),
        confidence=70,
        level=level or level_of(risk),
        drivers=list(drivers),
    )
    run.total = run.processed = run.scores.count()
    run.save(update_fields=["total", "processed"])
    return score
