"""Live sessions and their registrations: natural-key upserts (API, admin, demo) and the
attendance that event ingestion (engagement) folds in from `live_session_attended` /
`live_session_missed` events."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.bulk import UpsertResult, upsert_rows
from core.errors import DomainValidationError
from core.retry import retry_on_deadlock
from learning.models import Course, LiveSession, LiveSessionRegistration
from learning.services.catalogue import _duplicates, _merge, _resolve

SESSION_FIELDS = ("course_id", "title", "starts_at", "duration_minutes", "status")
REGISTRATION_FIELDS = ("registered_at", "status", "rescheduled_from_id")


@retry_on_deadlock
def live_sessions_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update live sessions by `external_id`; all or nothing.

    `course` is a course's external id. Creating a session needs `course`, `title` and
    `starts_at`; fields left out keep their stored values.
    """
    errors: dict[str, dict[str, list[str]]] = {}
    _duplicates(items, "external_id", errors)
    courses = _resolve(Course, {i["course"] for i in items if i.get("course")})
    existing = {
        row["external_id"]: row
        for row in LiveSession.objects.filter(
            external_id__in=[i["external_id"] for i in items]
        ).values("external_id", *SESSION_FIELDS)
    }
    now = timezone.now()
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
        row = _merge(
            data,
            existing.get(item["external_id"]),
            SESSION_FIELDS,
            {"duration_minutes": 60, "status": LiveSession.Status.SCHEDULED.value},
        )
        for field, label in (("course_id", "course"), ("title", "title"), ("starts_at", "")):
            label = label or field
            if row[field] is None and label not in errors.get(str(index), {}):
                errors.setdefault(str(index), {})[label] = [
                    "This field is required to create a live session."
                ]
        rows.append({**row, "external_id": item["external_id"], "updated_at": now})
    if errors:
        raise DomainValidationError({"items": errors})
    return upsert_rows(
        LiveSession,
        rows,
        unique_fields=["external_id"],
        update_fields=[*SESSION_FIELDS, "updated_at"],
        existing_keys={(key,) for key in existing},
    )


@retry_on_deadlock
def live_registrations_upsert(*, items: Sequence[dict[str, Any]]) -> UpsertResult:
    """Create or update registrations by (session, user), both external ids; all or nothing.

    `rescheduled_from` (optional) is the external id of the session the learner moved from;
    a registration moved away from a session is sent with status `rescheduled`. Attendance
    is not sent here: it comes from the learner's events.
    """
    errors: dict[str, dict[str, list[str]]] = {}
    _duplicates(items, ("session", "user"), errors)
    session_ids = {i["session"] for i in items} | {
        i["rescheduled_from"] for i in items if i.get("rescheduled_from")
    }
    sessions = _resolve(LiveSession, session_ids)
    users = _resolve(User, {i["user"] for i in items})
    existing = {
        (row["session_id"], row["user_id"]): row
        for row in LiveSessionRegistration.objects.filter(
            session_id__in=sessions.values(), user_id__in=users.values()
        ).values("session_id", "user_id", *REGISTRATION_FIELDS)
    }
    now = timezone.now()
    rows = []
    for index, item in enumerate(items):
        data = dict(item)
        for field, found in (("session", sessions), ("user", users)):
            if data[field] not in found:
                errors.setdefault(str(index), {})[field] = [
                    f"No {'live session' if field == 'session' else field} with external_id "
                    f"'{data[field]}'."
                ]
        session_id, user_id = sessions.get(data.pop("session")), users.get(data.pop("user"))
        if "rescheduled_from" in data:
            ext = data.pop("rescheduled_from")
            if ext and ext not in sessions:
                errors.setdefault(str(index), {})["rescheduled_from"] = [
                    f"No live session with external_id '{ext}'."
                ]
            elif ext and sessions[ext] == session_id:
                errors.setdefault(str(index), {})["rescheduled_from"] = [
                    "A registration cannot be rescheduled from its own session."
                ]
            data["rescheduled_from_id"] = sessions.get(ext) if ext else None
        row = _merge(
            data,
            existing.get((session_id, user_id)),
            REGISTRATION_FIELDS,
            {"registered_at": now, "status": LiveSessionRegistration.Status.REGISTERED.value},
        )
        rows.append({**row, "session_id": session_id, "user_id": user_id, "updated_at": now})
    if errors:
        raise DomainValidationError({"items": errors})
    return upsert_rows(
        LiveSessionRegistration,
        rows,
        unique_fields=["session", "user"],
        update_fields=[*REGISTRATION_FIELDS, "updated_at"],
        existing_keys=set(existing),
    )


@transaction.atomic
def live_attendance_record(*, outcomes: Iterable[tuple[int, str, bool, datetime]]) -> int:
    """Mark registrations attended or missed; return how many registrations changed.

    Each outcome is (user pk, live session external id, attended, when), from a
    `live_session_attended` (True) or `live_session_missed` (False) event. Unknown sessions
    are ignored (the event is still stored by ingestion). A learner with no registration
    who attended (a walk-in) gets one, registered at the event; one with no registration who
    "missed" it gets none (they were never expected: the event itself is still stored).
    Order-free and idempotent: attending beats missing whatever order the events come in (a
    learner who joined late after a "missed" was recorded did attend), and a replay changes
    nothing.
    """
    wanted: dict[tuple[int, str], tuple[bool, datetime]] = {}
    for user_id, session_ext, attended, at in outcomes:
        key = (user_id, session_ext)
        seen = wanted.get(key)
        if seen is None or (attended, -at.timestamp()) > (seen[0], -seen[1].timestamp()):
            wanted[key] = (attended, at)
    if not wanted:
        return 0
    sessions = _resolve(LiveSession, {ext for _, ext in wanted})
    by_ids = {
        (user_id, sessions[ext]): outcome
        for (user_id, ext), outcome in wanted.items()
        if ext in sessions
    }
    if not by_ids:
        return 0
    current = {
        (reg.user_id, reg.session_id): reg
        for reg in LiveSessionRegistration.objects.select_for_update()
        .filter(session_id__in={s for _, s in by_ids}, user_id__in={u for u, _ in by_ids})
        .order_by("session_id", "user_id")
    }
    now = timezone.now()
    changed: list[LiveSessionRegistration] = []
    new: list[LiveSessionRegistration] = []
    for (user_id, session_id), (attended, at) in sorted(by_ids.items()):
        reg = current.get((user_id, session_id))
        if reg is None:
            if not attended:  # never registered, did not come: nothing to record
                continue
            new.append(
                LiveSessionRegistration(
                    session_id=session_id,
                    user_id=user_id,
                    registered_at=at,
                    attended=attended,
                    outcome_at=at,
                )
            )
            continue
        if reg.attended is True or reg.attended is attended:
            continue
        reg.attended, reg.outcome_at, reg.updated_at = attended, at, now
        changed.append(reg)
    if new:
        # A concurrent batch may have created the same walk-in: the constraint keeps one.
        LiveSessionRegistration.objects.bulk_create(new, ignore_conflicts=True)
    if changed:
        LiveSessionRegistration.objects.bulk_update(
            changed, ["attended", "outcome_at", "updated_at"], batch_size=1000
        )
    return len(new) + len(changed)
