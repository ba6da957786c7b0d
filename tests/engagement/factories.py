"""Builders for engagement tests: event histories, scoring runs and scores.

Users, courses, lessons and enrollments come from their own apps' factories
(`tests.accounts.factories`, `tests.learning.factories`). Events go through `events_ingest`,
the one entry point for learner activity, so they arrive with ingestion's follow-ups (lesson
progress, enrollment status, provisional enrollments) as they would in production.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import factory

from accounts.models import User
from engagement.models import AlertRule, EngagementScore, Event, ScoringRun
from engagement.services.ingestion import events_ingest
from learning.models import Course, Lesson

_seq = itertools.count(1)

EventSpec = (
    tuple[str, datetime.datetime]
    | tuple[str, datetime.datetime, dict[str, Any]]
    | tuple[str, datetime.datetime, dict[str, Any], dict[str, Any]]
)


def _ref(value: Course | Lesson | None) -> str | None:
    return value.external_id if value is not None else None


def make_events(
    user: User,
    specs: Iterable[EventSpec],
    *,
    course: Course | None = None,
    lesson: Lesson | None = None,
    source: str = "test",
) -> list[Event]:
    """Ingest events of `user` from (type, occurred_at[, properties[, field overrides]]) tuples.

    `course` / `lesson` apply to every event unless an override dict names its own, e.g.
    ``("video_progress", t, {"percent": 40}, {"lesson": other_lesson})``. Every event must be
    one ingestion accepts: a rejected one fails the test that built it.
    """
    items = []
    for spec in specs:
        event_type, occurred_at = spec[0], spec[1]
        properties = spec[2] if len(spec) > 2 else {}
        overrides = spec[3] if len(spec) > 3 else {}
        fields = {"course": course, "lesson": lesson, **overrides}
        items.append(
            {
                "id": f"e{next(_seq)}",
                "type": event_type,
                "user": user.external_id,
                "course": _ref(fields["course"]),
                "lesson": _ref(fields["lesson"]),
                "occurred_at": occurred_at,
                "properties": properties,
            }
        )
    result = events_ingest(source=source, items=items)
    if result.rejected or result.duplicates:
        raise ValueError(f"ingestion refused events make_events built: {result}")
    ids = [item["id"] for item in items]
    stored = {e.client_id: e for e in Event.objects.filter(source=source, client_id__in=ids)}
    return [stored[client_id] for client_id in ids]


class AlertRuleFactory(factory.django.DjangoModelFactory):
    """The rule of `code`: the one migration 0002 seeded, or a new one where a transactional
    test's flush has emptied the table."""

    class Meta:
        model = AlertRule
        django_get_or_create = ("code",)

    code = AlertRule.Code.INACTIVE_14_DAYS
    name = factory.LazyAttribute(lambda rule: AlertRule.Code(rule.code).label)
    priority = 50
    cooldown_hours = 168


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
    course: Course | None = None,
    never_started: bool = False,
    as_of: datetime.date | None = None,
    level: str | None = None,
    drivers: Sequence[Any] = (),
    confidence: int = 70,
) -> EngagementScore:
    """An enrolment's score in `run`, with weekly/monthly risk derived from `risk`.

    Without `course` it is a score from before scores were per enrolment (course empty).
    """
    score = EngagementScore.objects.create(
        run=run,
        user=user,
        course=course,
        never_started=never_started,
        as_of=as_of or run.as_of,
        drop_off_risk=risk,
        weekly_risk=max(0, risk - 10),
        monthly_risk=min(100, risk + 5),
        confidence=confidence,
        level=level or level_of(risk),
        drivers=list(drivers),
    )
    run.total = run.processed = run.scores.count()
    run.save(update_fields=["total", "processed"])
    return score
