"""Reads of the precomputed funnels: one course's steps for a cohort of enrollments."""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass

from analytics.models import FunnelProgress
from learning.models import Course

STEPS = (
    ("enrolled", "Enrolled", "enrolled_at"),
    ("started", "Started", "started_at"),
    ("first_lesson", "First lesson completed", "first_lesson_at"),
    ("lessons_25", "25% of lessons", "quarter_at"),
    ("lessons_50", "50% of lessons", "half_at"),
    ("lessons_75", "75% of lessons", "three_quarters_at"),
    ("completed", "Course completed", "completed_at"),
)


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    count: int
    from_previous: float | None  # share of the previous step's count, None at the top
    from_top: float | None  # share of the enrolled count, None when nobody enrolled
    median_seconds: float | None  # from reaching the previous step; None at the top / empty


def funnel_steps(course: Course, start: datetime.date, end: datetime.date) -> list[FunnelStep]:
    """The funnel of the enrollments of `course` made from `start` to `end` (UTC dates,
    inclusive). A learner counts at a step once they reached it and every step before."""
    rows = list(
        FunnelProgress.objects.filter(
            course=course, enrolled_at__date__gte=start, enrolled_at__date__lte=end
        ).values_list(*(field for _, _, field in STEPS))
    )
    steps: list[FunnelStep] = []
    reached = rows
    top = len(rows)
    previous = None
    for index, (key, label, _) in enumerate(STEPS):
        if index:
            reached = [r for r in reached if r[index] is not None]
        count = len(reached)
        durations = (
            [max(0.0, (r[index] - r[index - 1]).total_seconds()) for r in reached] if index else []
        )
        steps.append(
            FunnelStep(
                key=key,
                label=label,
                count=count,
                from_previous=(count / previous if previous else None) if index else None,
                from_top=count / top if top else None,
                median_seconds=statistics.median(durations) if durations else None,
            )
        )
        previous = count
    return steps
