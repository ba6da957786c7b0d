"""Behaviour event ingestion: the one entry point for learner activity.

The API, the `import_events` command, the demo and the video player all call `events_ingest`.
It validates each event by hand (a serializer per event would cost more than the whole insert),
creates unknown users, courses, lessons and enrollments provisionally, stores the events
append-only and idempotently by (source, client id), then runs the follow-ups for the newly
stored events only: lesson progress and enrollment status in `learning`, then the handlers
named in ``settings.STRIDE_EVENT_HANDLERS`` (XP, streaks, conversions, ...), all in the same
transaction so that a batch is stored with its effects or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import User
from accounts.services import users_ensure_provisional
from engagement.catalogue import (
    EVENT_TYPES,
    MAX_PROPERTIES_BYTES,
    is_custom_type,
    properties_errors,
    unknown_type_message,
)
from engagement.models import Event
from learning.services import (
    PROBE_MAX_ROWS,
    courses_ensure_provisional,
    enrollments_ensure_provisional,
    enrollments_ensure_provisional_from,
    enrollments_record_status,
    lesson_progress_record,
    lesson_progress_record_from,
    lessons_ensure_provisional,
    progress_percent,
)

WEB_SOURCE = "web"  # the idempotency namespace of events sent from staff sessions
MAX_FUTURE = timedelta(minutes=5)  # clock skew we tolerate on the sender's side
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # older is a sender's bug, not history
DEVICES = frozenset(Event.Device.values)
ID_MAX = Event._meta.get_field("client_id").max_length
SESSION_MAX = Event._meta.get_field("session_id").max_length
PLATFORM_MAX = Event._meta.get_field("platform").max_length
REF_MAX = 128  # external ids of users, courses and lessons
PROGRESS_TYPES = frozenset({"lesson_started", "lesson_completed", "video_progress"})
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for a detected deadlock
UNIQUE_VIOLATION = "23505"
DEADLOCK_ATTEMPTS = 5
STATUS_OF_TYPE = {"course_completed": "completed", "enrollment_withdrawn": "withdrawn"}

_REQUIRED = "This field is required."


@dataclass(frozen=True)
class IngestResult:
    """What ingestion did: how many events it stored, and which items it did not, by index."""

    accepted: int
    duplicates: list[int] = field(default_factory=list)
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)


@dataclass(slots=True)
class _Row:
    """One valid event on its way to the database."""

    index: int
    client_id: str
    type: str
    user: str
    course: str | None
    lesson: str | None
    occurred_at: datetime
    session_id: str
    device: str
    platform: str
    properties: dict[str, Any]
    properties_json: str
    user_id: int = 0
    course_id: int | None = None
    lesson_id: int | None = None
    pk: int = 0


def events_ingest(*, source: str, items: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Store the valid, not-yet-seen events of `items` with their follow-ups; report the rest.

    `source` namespaces the events' ids (the API key's source, "web" for staff sessions).
    Items may give `occurred_at` as an aware datetime instead of an ISO-8601 string.
    Valid items are stored even when others are rejected; an id seen before (in an earlier
    call or earlier in `items`) is reported as a duplicate and stores nothing.
    """
    latest = timezone.now() + MAX_FUTURE
    rows: list[_Row] = []
    rejected: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        row = _parse(index, item, latest, rejected)
        if row is not None:
            rows.append(row)
    if not rows:
        return IngestResult(accepted=0, rejected=rejected)
    # Concurrent batches touching the same enrollments can deadlock; PostgreSQL breaks the
    # tie by failing one of them, which is then safe to run again from the start (it was
    # rolled back, and ingestion is idempotent). Inside a caller's transaction we cannot.
    attempts = 1 if connection.in_atomic_block else DEADLOCK_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return _store(source, rows, dict(rejected))
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK or attempt == attempts:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _store(
    source: str, rows: list[_Row], rejected: dict[int, dict[str, list[str]]]
) -> IngestResult:
    """Resolve references, insert what is new and run its follow-ups (inside a transaction)."""
    rows = _resolve_catalogue(rows, rejected)
    duplicates: list[int] = []
    unique: dict[str, _Row] = {}
    for row in rows:
        if row.client_id in unique:
            duplicates.append(row.index)
        else:
            unique[row.client_id] = row
    rows = list(unique.values())

    received_at = timezone.now()
    handlers = _handlers(tuple(settings.STRIDE_EVENT_HANDLERS))
    if not rows:
        new_rows: list[_Row] = []
    elif connection.vendor == "postgresql":
        new_rows = _store_postgresql(source, rows, received_at, with_pks=bool(handlers))
    else:
        new_rows = _store_generic(source, rows, received_at)
    if len(new_rows) < len(rows):
        new = {row.client_id for row in new_rows}
        duplicates.extend(row.index for row in rows if row.client_id not in new)
        duplicates.sort()
    if new_rows and handlers:
        events = [_event(source, row, received_at) for row in new_rows]
        for handler in handlers:
            handler(events)
    return IngestResult(
        accepted=len(new_rows),
        duplicates=duplicates,
        rejected=dict(sorted(rejected.items())),
    )


# --- validation -----------------------------------------------------------------------------


# One encoder for all events: json.dumps with options builds a new one per call.
_to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _text(value: Any, max_length: int) -> str:
    """Why a string field is wrong (called only once it is known to be wrong)."""
    if value is None:
        return _REQUIRED
    if type(value) is not str:
        return "Must be a string."
    if not value:
        return "May not be empty."
    if len(value) > max_length:
        return f"Must be at most {max_length} characters."
    return "May not contain NUL characters."


def _parse(
    index: int, item: Any, latest: datetime, rejected: dict[int, dict[str, list[str]]]
) -> _Row | None:
    """Check one event's envelope and properties; the row when valid, else record the errors."""
    if type(item) is not dict and not isinstance(item, Mapping):
        rejected[index] = {"non_field_errors": ["Each event must be a JSON object."]}
        return None
    errors: dict[str, list[str]] = {}
    get = item.get

    # Each string check has a fast path for the valid case: this runs for every event.
    client_id = get("id")
    if not (type(client_id) is str and 0 < len(client_id) <= ID_MAX and "\x00" not in client_id):
        errors["id"] = [_text(client_id, ID_MAX)]

    event_type = get("type")
    spec = EVENT_TYPES.get(event_type) if type(event_type) is str else None
    if spec is None:
        if event_type is None:
            errors["type"] = [_REQUIRED]
        elif type(event_type) is not str or not is_custom_type(event_type):
            errors["type"] = [unknown_type_message(event_type)]

    user = get("user")
    if not (type(user) is str and 0 < len(user) <= REF_MAX and "\x00" not in user):
        errors["user"] = [_text(user, REF_MAX)]
    course = get("course")
    if course is None or course == "":
        course = None
    elif not (type(course) is str and len(course) <= REF_MAX and "\x00" not in course):
        errors["course"] = [_text(course, REF_MAX)]
    lesson = get("lesson")
    if lesson is None or lesson == "":
        lesson = None
    elif not (type(lesson) is str and len(lesson) <= REF_MAX and "\x00" not in lesson):
        errors["lesson"] = [_text(lesson, REF_MAX)]
    if spec is not None:
        if spec.requires_lesson and lesson is None and "lesson" not in errors:
            errors["lesson"] = [f"A {event_type} event needs the lesson it is about."]
        if spec.requires_course and course is None and "course" not in errors:
            errors["course"] = [f"A {event_type} event needs the course it is about."]

    occurred_at = get("occurred_at")
    if type(occurred_at) is str:
        try:
            occurred_at = datetime.fromisoformat(occurred_at)
        except ValueError:
            errors["occurred_at"] = [
                "Not an ISO-8601 date-time; send e.g. 2026-11-20T18:04:05+02:00."
            ]
    if "occurred_at" in errors:
        pass
    elif occurred_at is None:
        errors["occurred_at"] = [_REQUIRED]
    elif not isinstance(occurred_at, datetime):
        errors["occurred_at"] = ["Must be an ISO-8601 date-time string."]
    elif occurred_at.tzinfo is None:
        errors["occurred_at"] = ["The date-time must include a UTC offset, e.g. +02:00 or Z."]
    elif occurred_at > latest:
        errors["occurred_at"] = ["The date-time is more than 5 minutes in the future."]
    elif occurred_at < EARLIEST:
        errors["occurred_at"] = ["The date-time is before 1970."]

    device = get("device")
    if device is None:
        device = ""
    elif type(device) is not str or (device and device not in DEVICES):
        errors["device"] = [f"Must be one of: {', '.join(sorted(DEVICES))}."]
    session_id = get("session_id")
    if session_id is None:
        session_id = ""
    elif not (
        type(session_id) is str and len(session_id) <= SESSION_MAX and "\x00" not in session_id
    ):
        errors["session_id"] = [_text(session_id, SESSION_MAX)]
    platform = get("platform")
    if platform is None:
        platform = ""
    elif not (type(platform) is str and len(platform) <= PLATFORM_MAX and "\x00" not in platform):
        errors["platform"] = [_text(platform, PLATFORM_MAX)]

    properties = get("properties")
    properties_json = "{}"
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        errors["properties"] = ["Must be a JSON object."]
    elif properties:
        problems = properties_errors(spec, properties) if spec is not None else []
        if not problems:
            try:
                properties_json = _to_json(properties)
            except (TypeError, ValueError):
                problems = ["Must hold only JSON values (no NaN or Infinity)."]
            else:
                if len(properties_json) > MAX_PROPERTIES_BYTES:
                    problems = [f"Must be at most {MAX_PROPERTIES_BYTES} bytes of JSON."]
                elif "\\u0000" in properties_json:
                    problems = ["May not contain NUL characters."]
        if problems:
            errors["properties"] = problems
    elif spec is not None and spec.properties:
        problems = properties_errors(spec, properties)
        if problems:
            errors["properties"] = problems

    if errors:
        rejected[index] = errors
        return None
    return _Row(
        index,
        client_id,
        event_type,
        user,
        course,
        lesson,
        occurred_at,
        session_id,
        device,
        platform,
        properties,
        properties_json,
    )


def _resolve_catalogue(rows: list[_Row], rejected: dict[int, dict[str, list[str]]]) -> list[_Row]:
    """Point rows at courses and lessons, creating unknown ones provisionally.

    A lesson unknown so far is created in the event's course; without a course it cannot be,
    and the event is rejected. An event naming a lesson takes the lesson's course.
    """
    course_ids = courses_ensure_provisional(
        external_ids={row.course for row in rows if row.course is not None}
    )
    course_of: dict[str, int | None] = {}
    for row in rows:
        row.course_id = course_ids[row.course] if row.course is not None else None
        if row.lesson is not None and course_of.get(row.lesson) is None:
            course_of[row.lesson] = row.course_id
    if not course_of:
        return rows
    lessons = lessons_ensure_provisional(course_of=course_of)
    kept = []
    for row in rows:
        if row.lesson is not None:
            found = lessons.get(row.lesson)
            if found is None:
                rejected[row.index] = {
                    "lesson": [
                        f"Unknown lesson '{row.lesson}': send its course with it (so that it "
                        "can be created) or sync the lesson first."
                    ]
                }
                continue
            lesson_id, lesson_course_id = found
            if row.course_id is not None and row.course_id != lesson_course_id:
                rejected[row.index] = {
                    "lesson": [f"Lesson '{row.lesson}' does not belong to course '{row.course}'."]
                }
                continue
            row.lesson_id, row.course_id = lesson_id, lesson_course_id
        kept.append(row)
    return kept


# --- storage --------------------------------------------------------------------------------

_COLUMNS = (
    "client_id",
    "type",
    "user_id",
    "course_id",
    "lesson_id",
    "occurred_at",
    "session_id",
    "device",
    "platform",
    "properties",
)
_INCOMING = (
    "client_id text, type text, user_ref text, user_id bigint, course_id bigint, "
    "lesson_id bigint, occurred_at timestamptz, session_id text, device text, platform text, "
    "properties jsonb, percent integer"
)
_STATUS_TYPES = sorted(STATUS_OF_TYPE)


def _store_postgresql(
    source: str, rows: list[_Row], received_at: datetime, *, with_pks: bool
) -> list[_Row]:
    """Insert the rows whose (source, id) is new and run their follow-ups; return those rows.

    The batch goes to the database once, by COPY into the temporary table `stride_event_in`,
    and everything after that is SQL on it: resolving users, the insert, and merging
    enrollments and progress. Python never sees a batch's rows again, only the few status
    changes, and the new events' pks and users when `with_pks` (for the handlers).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS stride_event_in ({_INCOMING})")
        with cursor.cursor.copy(
            "COPY stride_event_in (client_id, type, user_ref, course_id, lesson_id, occurred_at, "
            "session_id, device, platform, properties, percent) FROM STDIN"
        ) as copy:
            write = copy.write_row
            for row in rows:
                write(
                    (
                        row.client_id,
                        row.type,
                        row.user,
                        row.course_id,
                        row.lesson_id,
                        row.occurred_at,
                        row.session_id,
                        row.device,
                        row.platform,
                        row.properties_json,
                        progress_percent(row.properties.get("percent"))
                        if row.type == "video_progress"
                        else None,
                    )
                )
        _resolve_users_postgresql(cursor)
        new_rows = _insert_postgresql(cursor, source, rows, received_at, with_pks=with_pks)
        if new_rows:
            _follow_up_postgresql(cursor, few=len(rows) <= PROBE_MAX_ROWS)
        cursor.execute("TRUNCATE stride_event_in")
    return new_rows


def _resolve_users_postgresql(cursor: Any) -> None:
    """Fill in `stride_event_in.user_id`, creating unknown users provisionally."""
    # Matching in SQL spares sending a batch's learners back and forth as arrays of strings.
    users = connection.ops.quote_name(User._meta.db_table)
    resolve = (
        f"UPDATE stride_event_in AS x SET user_id = u.id FROM {users} AS u "
        "WHERE u.external_id = x.user_ref"
    )
    cursor.execute(resolve)
    cursor.execute("SELECT DISTINCT user_ref FROM stride_event_in WHERE user_id IS NULL")
    missing = {ref for (ref,) in cursor.fetchall()}
    if missing:
        users_ensure_provisional(external_ids=missing)
        cursor.execute(resolve + " AND x.user_id IS NULL")


def _insert_postgresql(
    cursor: Any, source: str, rows: list[_Row], received_at: datetime, *, with_pks: bool
) -> list[_Row]:
    """Insert the events of `stride_event_in` that are new, leaving only those in it.

    Returns the rows that were new, with their pks and users set when `with_pks`.
    """
    # The unique constraint decides what is new, even against concurrent senders. Inserting
    # in client-id order keeps two overlapping concurrent batches from deadlocking on each
    # other's keys.
    columns = ", ".join(_COLUMNS)
    insert = (
        f"INSERT INTO engagement_event (source, received_at, {columns}) "
        f'SELECT %s, %s, {columns} FROM stride_event_in ORDER BY client_id COLLATE "C" '
    )
    returning = "RETURNING client_id, id, user_id" if with_pks else "RETURNING client_id"
    if len(rows) > PROBE_MAX_ROWS:
        # A large batch (an import) is usually all new, and a plain INSERT costs the database
        # about a third less than ON CONFLICT's speculative insertion. Should an id exist
        # after all, the savepoint undoes the attempt and ON CONFLICT decides below.
        try:
            with transaction.atomic():
                cursor.execute(insert + (returning if with_pks else ""), [source, received_at])
                inserted = cursor.fetchall() if with_pks else None
        except IntegrityError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        else:
            if inserted is not None:
                _set_pks(rows, inserted)
            return rows
    cursor.execute(
        insert + "ON CONFLICT (source, client_id) DO NOTHING " + returning, [source, received_at]
    )
    inserted = cursor.fetchall()
    if len(inserted) == len(rows):
        new_rows = rows
    elif not inserted:
        return []
    else:
        new = {found[0] for found in inserted}
        new_rows = [row for row in rows if row.client_id in new]
        cursor.execute(
            "DELETE FROM stride_event_in WHERE client_id = ANY(%s)",
            [[row.client_id for row in rows if row.client_id not in new]],
        )
    if with_pks:
        _set_pks(new_rows, inserted)
    return new_rows


def _set_pks(rows: list[_Row], inserted: list[tuple[str, int, int]]) -> None:
    found = {client_id: (pk, user_id) for client_id, pk, user_id in inserted}
    for row in rows:
        row.pk, row.user_id = found[row.client_id]


def _follow_up_postgresql(cursor: Any, *, few: bool) -> None:
    """Merge the enrollments, progress and status changes of the events in `stride_event_in`."""
    # The new events are in the database already: enrollments and progress are merged from
    # there rather than gathered here and sent back row by row.
    enrollments_ensure_provisional_from(
        activity="SELECT user_id, course_id, occurred_at FROM stride_event_in "
        "WHERE course_id IS NOT NULL",
        few=few,
    )
    lesson_progress_record_from(
        activity="SELECT user_id, lesson_id, occurred_at, percent, type = 'lesson_completed' "
        "FROM stride_event_in WHERE lesson_id IS NOT NULL AND type = ANY(%s)",
        params=[sorted(PROGRESS_TYPES)],
        few=few,
    )
    cursor.execute(
        "SELECT user_id, course_id, type, occurred_at FROM stride_event_in "
        "WHERE type = ANY(%s) AND course_id IS NOT NULL",
        [_STATUS_TYPES],
    )
    status_changes = [
        (user_id, course_id, STATUS_OF_TYPE[event_type], occurred_at)
        for user_id, course_id, event_type, occurred_at in cursor.fetchall()
    ]
    if status_changes:
        enrollments_record_status(changes=status_changes)


def _store_generic(source: str, rows: list[_Row], received_at: datetime) -> list[_Row]:
    """Insert the rows whose (source, id) is new and run their follow-ups; return those rows."""
    user_ids = users_ensure_provisional(external_ids={row.user for row in rows})
    for row in rows:
        row.user_id = user_ids[row.user]
    # SQLite (the embedded default) serialises writers, so asking first is race-free there.
    client_ids = [row.client_id for row in rows]
    seen: set[str] = set()
    for start in range(0, len(client_ids), 500):
        seen.update(
            Event.objects.filter(
                source=source, client_id__in=client_ids[start : start + 500]
            ).values_list("client_id", flat=True)
        )
    fresh = [row for row in rows if row.client_id not in seen]
    Event.objects.bulk_create(
        [_event_unsaved(source, row, received_at) for row in fresh],
        ignore_conflicts=True,
        batch_size=500,
    )
    ids: dict[str, int] = {}
    fresh_ids = [row.client_id for row in fresh]
    for start in range(0, len(fresh_ids), 500):
        ids.update(
            Event.objects.filter(
                source=source, client_id__in=fresh_ids[start : start + 500]
            ).values_list("client_id", "id")
        )
    new_rows = [row for row in rows if row.client_id in ids]
    for row in new_rows:
        row.pk = ids[row.client_id]
    if new_rows:
        _follow_up_generic(new_rows)
    return new_rows


def _follow_up_generic(rows: list[_Row]) -> None:
    """Record the enrollments, progress and status changes of newly stored events."""
    first_seen: dict[tuple[int, int], datetime] = {}
    progress: list[tuple[int, int, datetime, float | None, bool]] = []
    status_changes: list[tuple[int, int, str, datetime]] = []
    for row in rows:
        if row.course_id is None:
            continue
        key = (row.user_id, row.course_id)
        seen = first_seen.get(key)
        if seen is None or row.occurred_at < seen:
            first_seen[key] = row.occurred_at
        if row.lesson_id is not None and row.type in PROGRESS_TYPES:
            percent = row.properties.get("percent") if row.type == "video_progress" else None
            progress.append(
                (
                    row.user_id,
                    row.lesson_id,
                    row.occurred_at,
                    percent,
                    row.type == "lesson_completed",
                )
            )
        status = STATUS_OF_TYPE.get(row.type)
        if status is not None:
            status_changes.append((row.user_id, row.course_id, status, row.occurred_at))
    if first_seen:
        enrollments_ensure_provisional(first_seen=first_seen)
    if progress:
        lesson_progress_record(observations=progress)
    if status_changes:
        enrollments_record_status(changes=status_changes)


@lru_cache(maxsize=8)
def _handlers(paths: tuple[str, ...]) -> list[Callable[[list[Event]], Any]]:
    return [import_string(path) for path in paths]


def _event_unsaved(source: str, row: _Row, received_at: datetime) -> Event:
    return Event(
        id=row.pk or None,  # 0 until the database has assigned one
        source=source,
        client_id=row.client_id,
        type=row.type,
        user_id=row.user_id,
        course_id=row.course_id,
        lesson_id=row.lesson_id,
        occurred_at=row.occurred_at,
        received_at=received_at,
        session_id=row.session_id,
        device=row.device,
        platform=row.platform,
        properties=row.properties,
    )


def _event(source: str, row: _Row, received_at: datetime) -> Event:
    """The stored event as a model instance, for handlers (no query: every field is known)."""
    event = _event_unsaved(source, row, received_at)
    event._state.adding = False
    event._state.db = connection.alias
    return event
