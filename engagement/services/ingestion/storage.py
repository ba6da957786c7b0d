"""Storing validated events and their follow-ups: COPY-based on PostgreSQL, bulk ORM elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.services import users_ensure_provisional
from engagement.models import Event
from engagement.services.ingestion.validation import _Row
from learning.services import (
    PROBE_MAX_ROWS,
    enrollments_ensure_provisional,
    enrollments_ensure_provisional_from,
    enrollments_record_status,
    lesson_progress_record,
    lesson_progress_record_from,
    progress_percent,
)

PROGRESS_TYPES = frozenset({"lesson_started", "lesson_completed", "video_progress"})
UNIQUE_VIOLATION = "23505"
STATUS_OF_TYPE = {"course_completed": "completed", "enrollment_withdrawn": "withdrawn"}


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
