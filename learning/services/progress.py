"""Progress writes: lesson progress and enrollment status, folded in from learner activity.

Event ingestion (engagement) is the usual caller. Its batches can hold history in any order
and replays of what was stored before, so every merge here is order-free and idempotent: the
earliest start and completion win, the percent only rises, and status changes apply in time
order with history already overtaken skipped.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from core.bulk import MergeRule, rows_merge
from learning.models import Enrollment, LessonProgress

_PROGRESS = connection.ops.quote_name(LessonProgress._meta.db_table)
_ENROLLMENTS = connection.ops.quote_name(Enrollment._meta.db_table)
_PROGRESS_MERGE = MergeRule(
    model=LessonProgress,
    columns=(
        ("user_id", "bigint"),
        ("lesson_id", "bigint"),
        ("started_at", "timestamptz"),
        ("completed_at", "timestamptz"),
        ("percent", "integer"),
        ("updated_at", "timestamptz"),
    ),
    conflict=("user_id", "lesson_id"),
    unchanged="t.started_at <= x.started_at AND t.percent >= x.percent AND "
    "(x.completed_at IS NULL OR t.completed_at <= x.completed_at)",
    update="SET "
    f"started_at = CASE WHEN {_PROGRESS}.started_at IS NULL OR "
    f"EXCLUDED.started_at < {_PROGRESS}.started_at "
    f"THEN EXCLUDED.started_at ELSE {_PROGRESS}.started_at END, "
    "completed_at = CASE WHEN EXCLUDED.completed_at IS NOT NULL AND "
    f"({_PROGRESS}.completed_at IS NULL OR EXCLUDED.completed_at < {_PROGRESS}.completed_at) "
    f"THEN EXCLUDED.completed_at ELSE {_PROGRESS}.completed_at END, "
    f"percent = CASE WHEN EXCLUDED.percent > {_PROGRESS}.percent THEN EXCLUDED.percent "
    f"ELSE {_PROGRESS}.percent END, "
    "updated_at = EXCLUDED.updated_at",
)

ProgressRow = tuple[int, int, datetime, datetime | None, int]
"""(user pk, lesson pk, started at, completed at or None, whole percent 0 to 100)."""


def progress_percent(percent: float | None) -> int:
    """The whole percent (0 to 100) that a reported video position counts as."""
    return max(0, min(100, round(percent or 0)))


def lesson_progress_record(
    *, observations: Iterable[tuple[int, int, datetime, float | None, bool]]
) -> int:
    """Fold lesson activity into LessonProgress; return how many (user, lesson) pairs it saw.

    Each observation is (user pk, lesson pk, when, percent or None, completed). Any activity
    marks the lesson started; the earliest start and completion win, and the percent only
    rises (a completion is 100%), so replays and out-of-order backfills change nothing.
    """
    return lesson_progress_merge(
        progress=(
            (
                user_id,
                lesson_id,
                at,
                at if completed else None,
                100 if completed else progress_percent(percent),
            )
            for user_id, lesson_id, at, percent, completed in observations
        )
    )


def lesson_progress_merge(*, progress: Iterable[ProgressRow]) -> int:
    """Merge progress already summed up per (user, lesson); return how many pairs it saw.

    Each row is (user pk, lesson pk, started at, completed at or None, percent), as
    `lesson_progress_record` would fold the activity of a batch; a pair may come more than
    once. Against stored progress the same rules apply: the earliest start and completion
    win, and the percent only rises.
    """
    merged: dict[tuple[int, int], list[Any]] = {}
    for user_id, lesson_id, started, completed, pct in progress:
        row = merged.get((user_id, lesson_id))
        if row is None:
            merged[(user_id, lesson_id)] = [started, completed, pct]
            continue
        if started < row[0]:
            row[0] = started
        if completed is not None and (row[1] is None or completed < row[1]):
            row[1] = completed
        if pct > row[2]:
            row[2] = pct
    now = timezone.now()
    rows = [
        (user_id, lesson_id, started, completed, pct, now)
        for (user_id, lesson_id), (started, completed, pct) in merged.items()
    ]
    rows_merge(_PROGRESS_MERGE, rows)
    return len(rows)


def enrollments_record_status(*, changes: Iterable[tuple[int, int, str, datetime]]) -> int:
    """Apply completions and withdrawals (user pk, course pk, status, when); return rows changed.

    Changes apply in time order; one older than the enrollment's current status date is
    history that has already been overtaken (a backfill arriving late) and is skipped.
    """
    by_pair: dict[tuple[int, int], list[tuple[datetime, str]]] = {}
    for user_id, course_id, status, at in changes:
        if status not in (Enrollment.Status.COMPLETED, Enrollment.Status.WITHDRAWN):
            raise ValueError(f"not a status change: {status}")
        by_pair.setdefault((user_id, course_id), []).append((at, status))
    if not by_pair:
        return 0
    # Lock in the same (user, course) order as the enrollment upserts of ingestion.
    candidates = (
        Enrollment.objects.select_for_update()
        .filter(user_id__in={u for u, _ in by_pair}, course_id__in={c for _, c in by_pair})
        .order_by("user_id", "course_id")
        .values_list("id", "user_id", "course_id", "status", "completed_at", "withdrawn_at")
    )
    changed: list[tuple[int, str, datetime | None, datetime | None]] = []
    for pk, user_id, course_id, status, completed_at, withdrawn_at in candidates:
        pending = by_pair.get((user_id, course_id))
        if not pending:
            continue
        before = (status, completed_at, withdrawn_at)
        for at, new_status in sorted(pending):
            current = completed_at or withdrawn_at
            if current is not None and at < current:
                continue
            if new_status == status:
                continue
            status = new_status
            completed_at = at if status == Enrollment.Status.COMPLETED else None
            withdrawn_at = at if status == Enrollment.Status.WITHDRAWN else None
        if (status, completed_at, withdrawn_at) != before:
            changed.append((pk, status, completed_at, withdrawn_at))
    if changed:
        _enrollments_set_status(changed, timezone.now())
    return len(changed)


def _enrollments_set_status(
    changed: list[tuple[int, str, datetime | None, datetime | None]], now: datetime
) -> None:
    """Write (pk, status, completed_at, withdrawn_at) to enrollments in one statement."""
    if connection.vendor == "postgresql":
        # One UPDATE from arrays: bulk_update's CASE per row and field costs more to build
        # in Python than the update takes in the database.
        ids, statuses, completed, withdrawn = (
            list(column) for column in zip(*changed, strict=True)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_ENROLLMENTS} AS e SET status = c.status, "
                "completed_at = c.completed_at, withdrawn_at = c.withdrawn_at, updated_at = %s "
                "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
                "AS c (id, status, completed_at, withdrawn_at) WHERE e.id = c.id",
                [now, ids, statuses, completed, withdrawn],
            )
        return
    Enrollment.objects.bulk_update(
        [
            Enrollment(
                id=pk,
                status=status,
                completed_at=completed_at,
                withdrawn_at=withdrawn_at,
                updated_at=now,  # bulk_update does not apply auto_now
            )
            for pk, status, completed_at, withdrawn_at in changed
        ],
        ["status", "completed_at", "withdrawn_at", "updated_at"],
        batch_size=1000,
    )
