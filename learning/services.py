"""Writes for the catalogue: natural-key upserts used by the API, the admin and the demo."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import User
from config.errors import DomainValidationError
from config.retry import retry_on_deadlock
from config.upsert import UpsertResult, upsert_rows
from learning.models import Course, Enrollment, Lesson, LessonProgress

COURSE_FIELDS = ("title", "description", "instructor_id", "starts_on", "ends_on")
LESSON_FIELDS = ("course_id", "position", "title", "duration_seconds")
ENROLLMENT_FIELDS = ("enrolled_at", "status", "completed_at", "withdrawn_at")


def _duplicates(items: Sequence[dict[str, Any]], key: str, errors: dict) -> None:
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        value = item[key] if isinstance(key, str) else tuple(item[k] for k in key)
        if value in seen:
            errors.setdefault(str(index), {})[key if isinstance(key, str) else key[0]] = [
                f"Duplicate of item {seen[value]} in this request."
            ]
        seen.setdefault(value, index)


def _resolve(model: type, external_ids: set[str], queryset: Any = None) -> dict[str, int]:
    queryset = model.objects.all() if queryset is None else queryset
    return dict(queryset.filter(external_id__in=external_ids).values_list("external_id", "id"))


def _merge(item: dict, current: dict | None, fields: Sequence[str], defaults: dict) -> dict:
    """Fields left out of an item keep their stored value (or the default for a new row)."""
    row = {}
    for field in fields:
        if field in item:
            row[field] = item[field]
        elif current is not None:
            row[field] = current[field]
        else:
            row[field] = defaults.get(field)
    return row


@retry_on_deadlock
def courses_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update courses by `external_id`; all or nothing.

    `instructor` is the external id of an existing user (or null).
    """
    errors: dict[str, dict[str, list[str]]] = {}
    _duplicates(items, "external_id", errors)
    instructors = _resolve(User, {i["instructor"] for i in items if i.get("instructor")})
    existing = {
        row["external_id"]: row
        for row in Course.objects.filter(external_id__in=[i["external_id"] for i in items]).values(
            "external_id", *COURSE_FIELDS
        )
    }
    rows = []
    for index, item in enumerate(items):
        data = dict(item)
        if "instructor" in data:
            ext = data.pop("instructor")
            if ext and ext not in instructors:
                errors.setdefault(str(index), {})["instructor"] = [
                    f"No user with external_id '{ext}'."
                ]
            data["instructor_id"] = instructors.get(ext) if ext else None
        row = _merge(data, existing.get(item["external_id"]), COURSE_FIELDS, {"description": ""})
        if row["title"] is None:
            errors.setdefault(str(index), {})["title"] = [
                "This field is required to create a course."
            ]
        if row["starts_on"] and row["ends_on"] and row["ends_on"] < row["starts_on"]:
            errors.setdefault(str(index), {})["ends_on"] = [
                "The course cannot end before it starts."
            ]
        rows.append(
            {
                **row,
                "external_id": item["external_id"],
                "provisional": False,
                "updated_at": timezone.now(),
            }
        )
    if errors:
        raise DomainValidationError({"items": errors})
    return upsert_rows(
        Course,
        rows,
        unique_fields=["external_id"],
        update_fields=[*COURSE_FIELDS, "provisional", "updated_at"],
        existing_keys={(key,) for key in existing},
    )


@retry_on_deadlock
def lessons_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update lessons by `external_id`; `course` is a course's external id."""
    errors: dict[str, dict[str, list[str]]] = {}
    _duplicates(items, "external_id", errors)
    courses = _resolve(Course, {i["course"] for i in items if i.get("course")})
    existing = {
        row["external_id"]: row
        for row in Lesson.objects.filter(external_id__in=[i["external_id"] for i in items]).values(
            "external_id", *LESSON_FIELDS
        )
    }
    rows = []
    for index, item in enumerate(items):
        data = dict(item)
        if "course" in data:
            ext = data.pop("course")
            if ext not in courses:
                errors.setdefault(str(index), {})["course"] = [
                    f"No course with external_id '{ext}'."
                ]
            data["course_id"] = courses.get(ext)
        row = _merge(data, existing.get(item["external_id"]), LESSON_FIELDS, {"position": 0})
        for field, label in (("course_id", "course"), ("title", "title")):
            if row[field] is None and label not in errors.get(str(index), {}):
                errors.setdefault(str(index), {})[label] = [
                    "This field is required to create a lesson."
                ]
        rows.append(
            {
                **row,
                "external_id": item["external_id"],
                "provisional": False,
                "updated_at": timezone.now(),
            }
        )
    if errors:
        raise DomainValidationError({"items": errors})
    return upsert_rows(
        Lesson,
        rows,
        unique_fields=["external_id"],
        update_fields=[*LESSON_FIELDS, "provisional", "updated_at"],
        existing_keys={(key,) for key in existing},
    )


def _status_dates(row: dict[str, Any], now: datetime) -> None:
    """Keep the status dates consistent with the status."""
    status = row["status"]
    if status == Enrollment.Status.COMPLETED:
        row["completed_at"] = row["completed_at"] or now
        row["withdrawn_at"] = None
    elif status == Enrollment.Status.WITHDRAWN:
        row["withdrawn_at"] = row["withdrawn_at"] or now
        row["completed_at"] = None
    else:
        row["completed_at"] = None
        row["withdrawn_at"] = None


@retry_on_deadlock
def enrollments_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update enrollments by (user, course), both given as external ids."""
    errors: dict[str, dict[str, list[str]]] = {}
    _duplicates(items, ("user", "course"), errors)
    users = _resolve(User, {i["user"] for i in items})
    courses = _resolve(Course, {i["course"] for i in items})
    existing = {
        (row["user_id"], row["course_id"]): row
        for row in Enrollment.objects.filter(
            user_id__in=users.values(), course_id__in=courses.values()
        ).values("user_id", "course_id", *ENROLLMENT_FIELDS)
    }
    now = timezone.now()
    rows = []
    for index, item in enumerate(items):
        for field, found in (("user", users), ("course", courses)):
            if item[field] not in found:
                errors.setdefault(str(index), {})[field] = [
                    f"No {field} with external_id '{item[field]}'."
                ]
        user_id, course_id = users.get(item["user"]), courses.get(item["course"])
        current = existing.get((user_id, course_id))
        row = _merge(item, current, ENROLLMENT_FIELDS, {"enrolled_at": now, "status": "active"})
        if "status" in item and current and item["status"] != current["status"]:
            # A new status starts its own date unless the integrator sent one.
            for field in ("completed_at", "withdrawn_at"):
                if field not in item:
                    row[field] = None
        _status_dates(row, now)
        for field in ("completed_at", "withdrawn_at"):
            if row[field] and row["enrolled_at"] and row[field] < row["enrolled_at"]:
                errors.setdefault(str(index), {})[field] = [
                    "This date cannot be before enrolled_at."
                ]
        rows.append(
            {
                **row,
                "user_id": user_id,
                "course_id": course_id,
                "provisional": False,
                "updated_at": now,
            }
        )
    if errors:
        raise DomainValidationError({"items": errors})
    return upsert_rows(
        Enrollment,
        rows,
        unique_fields=["user", "course"],
        update_fields=[*ENROLLMENT_FIELDS, "provisional", "updated_at"],
        existing_keys=set(existing),
    )


# --- Provisional catalogue and progress, written by event ingestion (engagement) -------------
# Events may name users, courses and lessons that no sync has sent yet (historical backfills);
# they are created on first sight, marked provisional, and a later upsert fills them in.


def courses_ensure_provisional(*, external_ids: Iterable[str]) -> dict[str, int]:
    """Make sure a course exists for each external id, creating provisional ones; id by ext id."""
    wanted = set(external_ids)
    if not wanted:
        return {}
    found = _resolve(Course, wanted)
    missing = sorted(wanted - set(found))
    if missing:
        Course.objects.bulk_create(
            [Course(external_id=ext, title=ext, provisional=True) for ext in missing],
            ignore_conflicts=True,
            batch_size=1000,
        )
        found.update(_resolve(Course, set(missing)))
    return found


def lessons_ensure_provisional(
    *, course_of: Mapping[str, int | None]
) -> dict[str, tuple[int, int]]:
    """Map lesson external ids to (lesson id, course id), creating unknown ones provisionally.

    `course_of` gives, per lesson external id, the course (pk) to create it in when it is
    unknown; unknown lessons without a course cannot be created and are left out of the answer.
    A known lesson keeps its own course whatever `course_of` says.
    """
    if not course_of:
        return {}

    def lookup(ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        rows = Lesson.objects.filter(external_id__in=set(ids)).values_list(
            "external_id", "id", "course_id"
        )
        return {ext: (pk, course_id) for ext, pk, course_id in rows}

    found = lookup(course_of)
    creatable = sorted(ext for ext, course in course_of.items() if ext not in found and course)
    if creatable:
        Lesson.objects.bulk_create(
            [
                Lesson(external_id=ext, course_id=course_of[ext], title=ext, provisional=True)
                for ext in creatable
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        found.update(lookup(creatable))
    return found


PROBE_MAX_ROWS = 2000


def _merge_rows(
    model: type,
    columns: Sequence[tuple[str, str]],
    conflict: Sequence[str],
    unchanged: str,
    on_conflict: str,
    rows: list[tuple],
) -> None:
    """INSERT rows ... ON CONFLICT (conflict) DO UPDATE <on_conflict>, in bulk.

    Written as SQL because the merge rules (earliest date wins, highest percent wins) must be
    applied by the database itself, so that concurrent writers cannot undo each other.
    `columns` are (name, PostgreSQL type). On PostgreSQL the rows are COPied into a temporary
    table (binding thousands of parameters costs more than the statement) and merged from
    there by `_merge_select`. Elsewhere (SQLite) they go as multi-row VALUES.
    """
    if not rows:
        return
    ops = connection.ops
    qn = ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            incoming = qn(f"stride_in_{model._meta.db_table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {incoming} ("
                + ", ".join(f"{qn(name)} {kind}" for name, kind in columns)
                + ")"
            )
            with cursor.cursor.copy(f"COPY {incoming} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            _merge_select(
                model,
                columns,
                conflict,
                unchanged,
                on_conflict,
                f"SELECT {cols} FROM {incoming}",
                (),
                probe=len(rows) <= PROBE_MAX_ROWS,
            )
            cursor.execute(f"TRUNCATE {incoming}")
            return
        tail = f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO UPDATE {on_conflict}"
        adapt = ops.adapt_datetimefield_value
        max_params = connection.features.max_query_params or 60000
        chunk = max(1, min(5000, max_params // len(columns)))
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES "
                + ", ".join([placeholder] * len(part))
                + tail,
                [adapt(v) if isinstance(v, datetime) else v for row in part for v in row],
            )


def _merge_select(
    model: type,
    columns: Sequence[tuple[str, str]],
    conflict: Sequence[str],
    unchanged: str,
    on_conflict: str,
    select: str,
    params: Sequence[Any],
    *,
    probe: bool,
) -> None:
    """Merge the rows of the query `select` (one per conflict key) into `model`; PostgreSQL.

    Rows for which `unchanged` holds (an SQL condition on the stored row `t` and the incoming
    row `x`) are skipped before the upsert, so that busy rows are not rewritten or locked for
    nothing. With `probe` the check stays a per-row probe of the unique index (OFFSET 0): for
    small batches (API requests) an anti-join tends to hash the whole table, which costs more
    the larger the table grows. Big import batches are left to the planner.
    """
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in columns)
    keys = ", ".join(qn(c) for c in conflict)
    match = " AND ".join(f"t.{qn(c)} = x.{qn(c)}" for c in conflict)
    # Inserting in key order keeps two overlapping concurrent merges from deadlocking.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM ({select}) AS x ({cols}) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match} AND ({unchanged}) "
            f"{'OFFSET 0' if probe else ''}) ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE " + on_conflict.replace(f"{table}.", "t."),
            params,
        )


# How provisional enrollments and lesson progress merge: shared by the Python-rows entry
# points and the SQL-query ones that event ingestion uses for large batches.
_ENROLLMENT_TABLE = connection.ops.quote_name(Enrollment._meta.db_table)
_ENROLLMENT_MERGE: tuple[Any, ...] = (
    Enrollment,
    (
        ("user_id", "bigint"),
        ("course_id", "bigint"),
        ("enrolled_at", "timestamptz"),
        ("status", "text"),
        ("provisional", "boolean"),
        ("updated_at", "timestamptz"),
    ),
    ("user_id", "course_id"),
    "NOT t.provisional OR t.enrolled_at <= x.enrolled_at",
    "SET enrolled_at = EXCLUDED.enrolled_at, updated_at = EXCLUDED.updated_at "
    f"WHERE {_ENROLLMENT_TABLE}.provisional AND EXCLUDED.enrolled_at < "
    f"{_ENROLLMENT_TABLE}.enrolled_at",
)
_PROGRESS_TABLE = connection.ops.quote_name(LessonProgress._meta.db_table)
_PROGRESS_MERGE: tuple[Any, ...] = (
    LessonProgress,
    (
        ("user_id", "bigint"),
        ("lesson_id", "bigint"),
        ("started_at", "timestamptz"),
        ("completed_at", "timestamptz"),
        ("percent", "integer"),
        ("updated_at", "timestamptz"),
    ),
    ("user_id", "lesson_id"),
    "t.started_at <= x.started_at AND t.percent >= x.percent AND "
    "(x.completed_at IS NULL OR t.completed_at <= x.completed_at)",
    "SET "
    f"started_at = CASE WHEN {_PROGRESS_TABLE}.started_at IS NULL OR "
    f"EXCLUDED.started_at < {_PROGRESS_TABLE}.started_at "
    f"THEN EXCLUDED.started_at ELSE {_PROGRESS_TABLE}.started_at END, "
    "completed_at = CASE WHEN EXCLUDED.completed_at IS NOT NULL AND "
    f"({_PROGRESS_TABLE}.completed_at IS NULL OR "
    f"EXCLUDED.completed_at < {_PROGRESS_TABLE}.completed_at) "
    f"THEN EXCLUDED.completed_at ELSE {_PROGRESS_TABLE}.completed_at END, "
    f"percent = CASE WHEN EXCLUDED.percent > {_PROGRESS_TABLE}.percent THEN EXCLUDED.percent "
    f"ELSE {_PROGRESS_TABLE}.percent END, "
    "updated_at = EXCLUDED.updated_at",
)


def enrollments_ensure_provisional(*, first_seen: Mapping[tuple[int, int], datetime]) -> None:
    """Make sure each (user pk, course pk) is enrolled, creating provisional enrollments.

    A new enrollment starts at the earliest activity seen for it; a provisional one moves its
    start back when older activity turns up later. Synced enrollments keep their own dates.
    """
    now = timezone.now()
    rows = [
        (user_id, course_id, at, Enrollment.Status.ACTIVE.value, True, now)
        for (user_id, course_id), at in sorted(first_seen.items())
    ]
    _merge_rows(*_ENROLLMENT_MERGE, rows)


def enrollments_ensure_provisional_from(
    *, activity: str, params: Sequence[Any] = (), few: bool = False
) -> None:
    """Like `enrollments_ensure_provisional`, for activity given as an SQL query; PostgreSQL.

    `activity` yields (user pk, course pk, when) rows, any number per pair (bind `params`).
    The earliest per pair is taken in the database, so that a large batch (event ingestion)
    does not travel through Python and back. `few` says it yields few rows (an API request).
    """
    _merge_select(
        *_ENROLLMENT_MERGE,
        "SELECT user_id, course_id, min(at), %s, true, %s "
        f"FROM ({activity}) AS a (user_id, course_id, at) GROUP BY user_id, course_id",
        [Enrollment.Status.ACTIVE.value, timezone.now(), *params],
        probe=few,
    )


def lesson_progress_record(
    *, observations: Iterable[tuple[int, int, datetime, float | None, bool]]
) -> int:
    """Fold lesson activity into LessonProgress; return how many (user, lesson) pairs it saw.

    Each observation is (user pk, lesson pk, when, percent or None, completed). Any activity
    marks the lesson started; the earliest start and completion win, and the percent only
    rises (a completion is 100%), so replays and out-of-order backfills change nothing.
    """
    merged: dict[tuple[int, int], list[Any]] = {}
    for user_id, lesson_id, at, percent, completed in observations:
        pct = 100 if completed else progress_percent(percent)
        row = merged.get((user_id, lesson_id))
        if row is None:
            merged[(user_id, lesson_id)] = [at, at if completed else None, pct]
            continue
        if at < row[0]:
            row[0] = at
        if completed and (row[1] is None or at < row[1]):
            row[1] = at
        if pct > row[2]:
            row[2] = pct
    now = timezone.now()
    rows = [
        (user_id, lesson_id, started, completed, pct, now)
        for (user_id, lesson_id), (started, completed, pct) in sorted(merged.items())
    ]
    _merge_rows(*_PROGRESS_MERGE, rows)
    return len(rows)


def progress_percent(percent: float | None) -> int:
    """The whole percent (0 to 100) that a reported video position counts as."""
    return max(0, min(100, round(percent or 0)))


def lesson_progress_record_from(
    *, activity: str, params: Sequence[Any] = (), few: bool = False
) -> None:
    """Like `lesson_progress_record`, for observations given as an SQL query; PostgreSQL.

    `activity` yields (user pk, lesson pk, when, percent, completed) rows, the percent
    already made whole by `progress_percent` (or null). They are folded per (user, lesson) in
    the database by the same rules, so that a large batch does not travel through Python.
    `few` says it yields few rows (an API request).
    """
    _merge_select(
        *_PROGRESS_MERGE,
        "SELECT user_id, lesson_id, min(at), min(at) FILTER (WHERE completed), "
        "max(CASE WHEN completed THEN 100 ELSE coalesce(percent, 0) END), %s "
        f"FROM ({activity}) AS a (user_id, lesson_id, at, percent, completed) "
        "GROUP BY user_id, lesson_id",
        [timezone.now(), *params],
        probe=few,
    )


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
                f"UPDATE {_ENROLLMENT_TABLE} AS e SET status = c.status, "
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
