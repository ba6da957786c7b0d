"""Storing validated events and their follow-ups: COPY-based on PostgreSQL, bulk ORM elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction

from accounts.services import users_ensure_provisional
from core.bulk import PROBE_MAX_ROWS, fetch_rows, staged_rows
from core.records import EventRecord
from engagement.models import Event
from engagement.services.ingestion.validation import EventRow
from learning.services import (
    ProgressRow,
    enrollments_ensure_provisional,
    enrollments_record_status,
    lesson_progress_merge,
    lesson_progress_record,
    live_attendance_record,
    progress_percent,
)

PROGRESS_TYPES = frozenset({"lesson_started", "lesson_completed", "video_progress"})
UNIQUE_VIOLATION = "23505"
STATUS_OF_TYPE = {"course_completed": "completed", "enrollment_withdrawn": "withdrawn"}
ATTENDANCE_OF_TYPE = {"live_session_attended": True, "live_session_missed": False}


# --- storage --------------------------------------------------------------------------------

# The batch as staged for the database; the first ten columns are the event's own.
_STAGED = (
    ("client_id", "text"),
    ("type", "text"),
    ("user_id", "bigint"),
    ("course_id", "bigint"),
    ("lesson_id", "bigint"),
    ("occurred_at", "timestamptz"),
    ("session_id", "text"),
    ("device", "text"),
    ("platform", "text"),
    ("properties", "jsonb"),
    ("percent", "integer"),  # the whole percent of a video_progress event, else null
)
_COLUMNS = ", ".join(name for name, _ in _STAGED[:10])
_STATUS_TYPES = sorted(STATUS_OF_TYPE)
_PROGRESS_TYPES = sorted(PROGRESS_TYPES)


def resolve_users(rows: list[EventRow]) -> None:
    """Point each row at its learner's pk, creating unknown learners provisionally."""
    user_ids = users_ensure_provisional(external_ids={row.user for row in rows})
    for row in rows:
        row.user_id = user_ids[row.user]


def store_postgresql(
    source: str, rows: list[EventRow], received_at: datetime, *, with_pks: bool
) -> list[EventRow]:
    """Insert the rows whose (source, id) is new and run their follow-ups; return those rows.

    The rows' users must be resolved (`resolve_users`). The batch goes to the database once,
    by COPY into a temporary table, and the insert and the follow-ups' summary are SQL on it:
    Python sees per-(learner, lesson) totals and the few status changes, and the new events'
    pks when `with_pks` (for the handlers).
    """
    values = (
        (
            row.client_id,
            row.type,
            row.user_id,
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
        for row in rows
    )
    with (
        staged_rows("stride_event_in", _STAGED, values) as staged,
        connection.cursor() as cursor,
    ):
        new_rows = _insert_postgresql(cursor, staged, source, rows, received_at, with_pks=with_pks)
        if new_rows:
            _follow_up_postgresql(staged)
    return new_rows


def _insert_postgresql(
    cursor: Any,
    staged: str,
    source: str,
    rows: list[EventRow],
    received_at: datetime,
    *,
    with_pks: bool,
) -> list[EventRow]:
    """Insert the events of the table `staged` that are new, leaving only those in it.

    Returns the rows that were new, with their pks set when `with_pks`.
    """
    # The unique constraint decides what is new, even against concurrent senders. Inserting
    # in client-id order keeps two overlapping concurrent batches from deadlocking on each
    # other's keys.
    events = connection.ops.quote_name(Event._meta.db_table)
    insert = (
        f"INSERT INTO {events} (source, received_at, {_COLUMNS}) "
        f'SELECT %s, %s, {_COLUMNS} FROM {staged} ORDER BY client_id COLLATE "C" '
    )
    returning = "RETURNING client_id, id" if with_pks else "RETURNING client_id"
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
            f"DELETE FROM {staged} WHERE client_id = ANY(%s)",
            [[row.client_id for row in rows if row.client_id not in new]],
        )
    if with_pks:
        _set_pks(new_rows, inserted)
    return new_rows


def _set_pks(rows: list[EventRow], inserted: list[tuple[str, int]]) -> None:
    found = dict(inserted)
    for row in rows:
        row.pk = found[row.client_id]


def _follow_up_postgresql(staged: str) -> None:
    """Record the enrollments, progress and status changes of the events in `staged`."""
    # One pass of the database over the new events sums them up per learner and course, and
    # per lesson for the progress events: the earliest activity (which for a lesson is its
    # start), the earliest completion and the highest percent. `learning` merges the totals.
    totals = fetch_rows(
        "SELECT user_id, course_id, CASE WHEN type = ANY(%s) THEN lesson_id END AS lesson, "
        "min(occurred_at), min(occurred_at) FILTER (WHERE type = 'lesson_completed'), "
        "max(CASE WHEN type = 'lesson_completed' THEN 100 ELSE coalesce(percent, 0) END) "
        f"FROM {staged} WHERE course_id IS NOT NULL GROUP BY user_id, course_id, lesson",
        [_PROGRESS_TYPES],
    )
    first_seen: dict[tuple[int, int], datetime] = {}
    progress: list[ProgressRow] = []
    for user_id, course_id, lesson_id, first, completed, percent in totals:
        key = (user_id, course_id)
        seen = first_seen.get(key)
        if seen is None or first < seen:
            first_seen[key] = first
        if lesson_id is not None:
            progress.append((user_id, lesson_id, first, completed, percent))
    enrollments_ensure_provisional(first_seen=first_seen)
    if progress:
        lesson_progress_merge(progress=progress)
    status_changes = [
        (user_id, course_id, STATUS_OF_TYPE[event_type], occurred_at)
        for user_id, course_id, event_type, occurred_at in fetch_rows(
            f"SELECT user_id, course_id, type, occurred_at FROM {staged} "
            "WHERE type = ANY(%s) AND course_id IS NOT NULL",
            [_STATUS_TYPES],
        )
    ]
    if status_changes:
        enrollments_record_status(changes=status_changes)


def store_generic(source: str, rows: list[EventRow], received_at: datetime) -> list[EventRow]:
    """Insert the rows whose (source, id) is new and run their follow-ups; return those rows.

    The rows' users must be resolved (`resolve_users`).
    """
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


def _follow_up_generic(rows: list[EventRow]) -> None:
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


def attendance_record(rows: list[EventRow]) -> None:
    """Mark the live-session registrations that newly stored attendance events report."""
    # Few events of a batch are about live sessions: reading them from the rows in Python
    # costs less than another pass of the database over the staged batch.
    outcomes = [
        (row.user_id, str(row.properties["live_session"]), attended, row.occurred_at)
        for row in rows
        if (attended := ATTENDANCE_OF_TYPE.get(row.type)) is not None
        and row.properties.get("live_session")
    ]
    if outcomes:
        live_attendance_record(outcomes=outcomes)


def _event_unsaved(source: str, row: EventRow, received_at: datetime) -> Event:
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


def event_record(source: str, row: EventRow, received_at: datetime) -> EventRecord:
    """The stored event as the plain record handlers receive (no query: every field is known)."""
    return EventRecord(
        id=row.pk,
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
