"""Nightly recomputation of every enrollment's funnel progress (FunnelProgress)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from analytics.models import FunnelProgress
from core.bulk import fetch_rows, rows_insert
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from learning.models import Course, Enrollment, LessonProgress

# The lesson-share steps and the share of a course's lessons each needs.
SHARES = (("quarter_at", 0.25), ("half_at", 0.5), ("three_quarters_at", 0.75))
COLUMNS = (
    ("enrollment_id", "bigint"),
    ("course_id", "bigint"),
    ("enrolled_at", "timestamptz"),
    ("started_at", "timestamptz"),
    ("first_lesson_at", "timestamptz"),
    *((field, "timestamptz") for field, _ in SHARES),
    ("completed_at", "timestamptz"),
    ("computed_at", "timestamptz"),
)


def funnels_compute() -> int:
    """Recompute the funnel progress of every enrollment; return how many rows were written.

    "Started" is the enrollment's first activity event in the course (one MIN aggregation
    over the events, per learner and course); lesson steps come from LessonProgress
    completion times, the k-th distinct lesson completed reaching the step that needs k
    lessons (k = ceil(share * lessons)).
    """
    # Every (learner, course)'s first activity in one grouped scan of the events: a probe
    # per enrollment would visit each learner's events again, scattered over the table.
    firsts = (
        Event.objects.filter(course__isnull=False)
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .values("user_id", "course_id")
        .annotate(first=Min("occurred_at"))
        .order_by()
        .values_list("user_id", "course_id", "first")
    )
    first_activity = {(user_id, course_id): first for user_id, course_id, first in _rows(firsts)}
    enrollments = _rows(
        Enrollment.objects.order_by().values_list(
            "id", "user_id", "course_id", "enrolled_at", "completed_at"
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

    now = timezone.now()
    rows = []
    for enrollment_id, user_id, course_id, enrolled_at, completed_at in enrollments:
        done = completions.get((user_id, course_id), [])
        n = lessons.get(course_id, 0)
        steps = []
        for _, share in SHARES:
            needed = max(1, math.ceil(share * n)) if n else None
            steps.append(done[needed - 1] if needed and len(done) >= needed else None)
        started = _earliest(first_activity.get((user_id, course_id)), done[0] if done else None)
        rows.append(
            (
                enrollment_id,
                course_id,
                enrolled_at,
                started,
                done[0] if done else None,
                *steps,
                completed_at,
                now,
            )
        )
    with transaction.atomic():
        FunnelProgress.objects.all().delete()
        # The table was just emptied in this transaction: COPied in, not bound row by row.
        rows_insert(FunnelProgress, COLUMNS, rows, expect_new=True)
    return len(rows)


def _rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """A values_list's rows; on PostgreSQL through fetch_rows, whose timestamp loader reads
    tens of thousands of them several times faster than Django's (SQLite's come as text
    there, so that path keeps the ORM's)."""
    if connection.vendor == "postgresql":
        return fetch_rows(*queryset.query.sql_with_params())
    return list(queryset)


def _earliest(*times):
    present = [t for t in times if t is not None]
    return min(present) if present else None
