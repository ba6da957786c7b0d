"""Behaviour event ingestion: the one entry point for learner activity.

The API, the `import_events` command, the demo and the video player all call `events_ingest`.
It validates each event by hand (a serializer per event would cost more than the whole insert),
creates unknown users, courses, lessons and enrollments provisionally, stores the events
append-only and idempotently by (source, client id), then runs the follow-ups for the newly
stored events only: lesson progress, enrollment status and live-session attendance in
`learning`, then gamification's `events_apply` (XP, streaks, achievements; called directly, it
sits below engagement), then the handlers named in ``settings.STRIDE_EVENT_HANDLERS``
(conversions, ...), all in the same transaction so that a batch is stored with its effects or
not at all. Each is called once per
batch with the list of newly stored events as `core.records.EventRecord`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

from core.records import EventRecord
from core.retry import retry_on_deadlock
from engagement.services.ingestion.storage import (
    attendance_record,
    event_record,
    resolve_users,
    store_generic,
    store_postgresql,
)
from engagement.services.ingestion.validation import (
    MAX_FUTURE,
    EventRow,
    parse_event,
    resolve_catalogue,
)
from gamification.services.events import events_apply

WEB_SOURCE = "web"  # the idempotency namespace of events sent from staff sessions


@dataclass(frozen=True)
class IngestResult:
    """What ingestion did: how many events it stored, and which items it did not, by index."""

    accepted: int
    duplicates: list[int] = field(default_factory=list)
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def events_ingest(*, source: str, items: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Store the valid, not-yet-seen events of `items` with their follow-ups; report the rest.

    `source` namespaces the events' ids (the API key's source, "web" for staff sessions).
    Items may give `occurred_at` as an aware datetime instead of an ISO-8601 string.
    Valid items are stored even when others are rejected; an id seen before (in an earlier
    call or earlier in `items`) is reported as a duplicate and stores nothing.
    """
    latest = timezone.now() + MAX_FUTURE
    rows: list[EventRow] = []
    rejected: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        row = parse_event(index, item, latest, rejected)
        if row is not None:
            rows.append(row)
    if not rows:
        return IngestResult(accepted=0, rejected=rejected)

    # Concurrent batches touching the same enrollments can deadlock; PostgreSQL breaks the
    # tie by failing one of them, which is then safe to run again from the start (it was
    # rolled back, and ingestion is idempotent). Inside a caller's transaction we cannot.
    @retry_on_deadlock
    def store() -> IngestResult:
        # A fresh copy per attempt: a failed attempt may have added rejections.
        return _store(source, rows, dict(rejected))

    return store()


def _store(
    source: str, rows: list[EventRow], rejected: dict[int, dict[str, list[str]]]
) -> IngestResult:
    """Resolve references, insert what is new and run its follow-ups (inside a transaction)."""
    rows = resolve_catalogue(rows, rejected)
    duplicates: list[int] = []
    unique: dict[str, EventRow] = {}
    for row in rows:
        if row.client_id in unique:
            duplicates.append(row.index)
        else:
            unique[row.client_id] = row
    rows = list(unique.values())

    received_at = timezone.now()
    handlers = _handlers(tuple(settings.STRIDE_EVENT_HANDLERS))
    # Gamification (XP, streaks, achievements) sits below engagement and is called directly.
    gamification = settings.STRIDE_GAMIFICATION_ENABLED
    new_rows: list[EventRow] = []
    if rows:
        resolve_users(rows)
        if connection.vendor == "postgresql":
            new_rows = store_postgresql(
                source, rows, received_at, with_pks=bool(handlers) or gamification
            )
        else:
            new_rows = store_generic(source, rows, received_at)
        if new_rows:  # whichever way they were stored
            attendance_record(new_rows)
    if len(new_rows) < len(rows):
        new = {row.client_id for row in new_rows}
        duplicates.extend(row.index for row in rows if row.client_id not in new)
        duplicates.sort()
    if new_rows and (handlers or gamification):
        events = [event_record(source, row, received_at) for row in new_rows]
        if gamification:
            events_apply(events)
        for handler in handlers:
            handler(events)
    return IngestResult(
        accepted=len(new_rows),
        duplicates=duplicates,
        rejected=dict(sorted(rejected.items())),
    )


@lru_cache(maxsize=8)
def _handlers(paths: tuple[str, ...]) -> list[Callable[[list[EventRecord]], Any]]:
    return [import_string(path) for path in paths]
