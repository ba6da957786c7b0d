"""Catalogue writes: natural-key upserts of courses, lessons and enrollments (API, admin, demo),
and the provisional ones that event ingestion creates for what no sync has sent yet."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import User
from core.bulk import MergeRule, UpsertResult, rows_merge, upsert_rows
from core.errors import DomainValidationError
from core.retry import retry_on_deadlock
from learning.models import Course, Enrollment, Lesson

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


_ENROLLMENTS = connection.ops.quote_name(Enrollment._meta.db_table)
# A provisional enrollment starts at the earliest activity seen; synced ones keep their dates.
_PROVISIONAL_ENROLLMENT_MERGE = MergeRule(
    model=Enrollment,
    columns=(
        ("user_id", "bigint"),
        ("course_id", "bigint"),
        ("enrolled_at", "timestamptz"),
        ("status", "text"),
        ("provisional", "boolean"),
        ("updated_at", "timestamptz"),
    ),
    conflict=("user_id", "course_id"),
    unchanged="NOT t.provisional OR t.enrolled_at <= x.enrolled_at",
    update="SET enrolled_at = EXCLUDED.enrolled_at, updated_at = EXCLUDED.updated_at "
    f"WHERE {_ENROLLMENTS}.provisional AND EXCLUDED.enrolled_at < {_ENROLLMENTS}.enrolled_at",
)


def enrollments_ensure_provisional(*, first_seen: Mapping[tuple[int, int], datetime]) -> None:
    """Make sure each (user pk, course pk) is enrolled, creating provisional enrollments.

    A new enrollment starts at the earliest activity seen for it; a provisional one moves its
    start back when older activity turns up later. Synced enrollments keep their own dates.
    """
    now = timezone.now()
    rows = [
        (user_id, course_id, at, Enrollment.Status.ACTIVE.value, True, now)
        for (user_id, course_id), at in first_seen.items()
    ]
    rows_merge(_PROVISIONAL_ENROLLMENT_MERGE, rows)
