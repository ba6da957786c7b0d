"""Nightly recomputation of every enrollment's funnel progress (FunnelProgress)."""

from __future__ import annotations

import math
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Min, OuterRef, Subquery

from analytics.models import FunnelProgress
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from learning.models import Course, Enrollment, LessonProgress

# The lesson-share steps and the share of a course's lessons each needs.
SHARES = (("quarter_at", 0.25), ("half_at", 0.5), ("three_quarters_at", 0.75))


def funnels_compute() -> int:
    """Recompute the funnel progress of every enrollment; return how many rows were written.

    "Started" is the enrollment's first activity event in the course (a MIN aggregation over
    the events); lesson steps come from LessonProgress completion times, the k-th distinct
    lesson completed reaching the step that needs k lessons (k = ceil(share * lessons)).
    """
    first_activity = (
        Event.objects.filter(user=OuterRef("user_id"), course=OuterRef("course_id"))
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .values("user")
        .annotate(first=Min("occurred_at"))
        .values("first")
    )
    enrollments = list(
        Enrollment.objects.annotate(first_activity=Subquery(first_activity)).values(
            "id", "user_id", "course_id", "enrolled_at", "completed_at", "first_activity"
        )
    )
    lessons = dict(Course.objects.annotate(n=Count("lessons")).values_list("id", "n"))
    completions: dict[tuple[int, int], list] = defaultdict(list)
    for user_id, course_id, at in (
        LessonProgress.objects.filter(completed_at__isnull=False)
        .order_by("completed_at")
        .values_list("user_id", "lesson__course_id", "completed_at")
        .iterator()
    ):
        completions[(user_id, course_id)].append(at)

    rows = []
    for e in enrollments:
        done = completions.get((e["user_id"], e["course_id"]), [])
        n = lessons.get(e["course_id"], 0)
        row = FunnelProgress(
            enrollment_id=e["id"],
            course_id=e["course_id"],
            enrolled_at=e["enrolled_at"],
            started_at=_earliest(e["first_activity"], done[0] if done else None),
            first_lesson_at=done[0] if done else None,
            completed_at=e["completed_at"],
        )
        for field, share in SHARES:
            needed = max(1, math.ceil(share * n)) if n else None
            setattr(row, field, done[needed - 1] if needed and len(done) >= needed else None)
        rows.append(row)
    with transaction.atomic():
        FunnelProgress.objects.all().delete()
        FunnelProgress.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _earliest(*times):
    present = [t for t in times if t is not None]
    return min(present) if present else None
