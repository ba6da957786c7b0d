"""Validation of event envelopes, by hand: a serializer per event would cost more than its
insert."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from core.errors import invalid_choice_message
from engagement.catalogue import (
    EVENT_TYPES,
    LONE_SURROGATE,
    MAX_PROPERTIES_BYTES,
    is_custom_type,
    is_utf8_encodable,
    properties_content_errors,
    properties_errors,
    unknown_type_message,
)
from engagement.models import Event
from learning.services import (
    courses_ensure_provisional,
    lessons_ensure_provisional,
)

MAX_FUTURE = timedelta(minutes=5)  # clock skew we tolerate on the sender's side
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # older is a sender's bug, not history
DEVICES = frozenset(Event.Device.values)
ID_MAX = Event._meta.get_field("client_id").max_length
SESSION_MAX = Event._meta.get_field("session_id").max_length
PLATFORM_MAX = Event._meta.get_field("platform").max_length
REF_MAX = 128  # external ids of users, courses and lessons
# PostgreSQL's timestamptz takes UTC offsets up to 15:59:59 and in whole seconds; Python's
# datetime up to a day and to the microsecond. No time zone is beyond +14:00 or -12:00.
MAX_OFFSET = timedelta(hours=16)
_OFFSETS_SEEN: dict[tzinfo, None] = {}  # valid fixed offsets, to check each only once
_OFFSETS_KEPT = 4096  # bound on the above (there are 115,200 valid offsets in seconds)
# A number beyond a double has 309 digits or more (its JSON text, then, at least as many).
_LONG_DIGITS = re.compile(r"\d{309}")

_REQUIRED = "This field is required."


@dataclass(slots=True)
class EventRow:
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
    if "\x00" in value:
        return "May not contain NUL characters."
    return f"Must be {LONE_SURROGATE}"


def _offset_error(occurred_at: datetime) -> str | None:
    """Why the UTC offset of an aware `occurred_at` cannot be stored, or None when it can."""
    offset = occurred_at.utcoffset()
    if offset is None:  # a tzinfo that knows no offset for this time
        return "The date-time must include a UTC offset, e.g. +02:00 or Z."
    if not -MAX_OFFSET < offset < MAX_OFFSET:
        return "The UTC offset must lie between -15:59 and +15:59."
    if offset.microseconds:
        return "The UTC offset must be whole seconds."
    tz = occurred_at.tzinfo
    if type(tz) is timezone and len(_OFFSETS_SEEN) < _OFFSETS_KEPT:
        _OFFSETS_SEEN[tz] = None  # fixed offsets only: a zone's offset depends on the date
    return None


def parse_event(
    index: int, item: Any, latest: datetime, rejected: dict[int, dict[str, list[str]]]
) -> EventRow | None:
    """Check one event's envelope and properties; the row when valid, else record the errors."""
    if type(item) is not dict and not isinstance(item, Mapping):
        rejected[index] = {"non_field_errors": ["Each event must be a JSON object."]}
        return None
    errors: dict[str, list[str]] = {}
    get = item.get

    # Each string check has a fast path for the valid case: this runs for every event.
    client_id = get("id")
    if not (
        type(client_id) is str
        and 0 < len(client_id) <= ID_MAX
        and "\x00" not in client_id
        and (client_id.isascii() or is_utf8_encodable(client_id))
    ):
        errors["id"] = [_text(client_id, ID_MAX)]

    event_type = get("type")
    spec = EVENT_TYPES.get(event_type) if type(event_type) is str else None
    if spec is None:
        if event_type is None:
            errors["type"] = [_REQUIRED]
        elif type(event_type) is not str or not is_custom_type(event_type):
            errors["type"] = [unknown_type_message(event_type)]

    user = get("user")
    if not (
        type(user) is str
        and 0 < len(user) <= REF_MAX
        and "\x00" not in user
        and (user.isascii() or is_utf8_encodable(user))
    ):
        errors["user"] = [_text(user, REF_MAX)]
    course = get("course")
    if course is None or course == "":
        course = None
    elif not (
        type(course) is str
        and len(course) <= REF_MAX
        and "\x00" not in course
        and (course.isascii() or is_utf8_encodable(course))
    ):
        errors["course"] = [_text(course, REF_MAX)]
    lesson = get("lesson")
    if lesson is None or lesson == "":
        lesson = None
    elif not (
        type(lesson) is str
        and len(lesson) <= REF_MAX
        and "\x00" not in lesson
        and (lesson.isascii() or is_utf8_encodable(lesson))
    ):
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
    elif (tz := occurred_at.tzinfo) is None:
        errors["occurred_at"] = ["The date-time must include a UTC offset, e.g. +02:00 or Z."]
    elif (
        tz is not UTC
        and (type(tz) is not timezone or tz not in _OFFSETS_SEEN)
        and (problem := _offset_error(occurred_at))
    ):
        errors["occurred_at"] = [problem]
    elif occurred_at > latest:
        errors["occurred_at"] = ["The date-time is more than 5 minutes in the future."]
    elif occurred_at < EARLIEST:
        errors["occurred_at"] = ["The date-time is before 1970."]

    device = get("device")
    if device is None:
        device = ""
    elif type(device) is not str or (device and device not in DEVICES):
        errors["device"] = [invalid_choice_message(device, sorted(DEVICES))]
    session_id = get("session_id")
    if session_id is None:
        session_id = ""
    elif not (
        type(session_id) is str
        and len(session_id) <= SESSION_MAX
        and "\x00" not in session_id
        and (session_id.isascii() or is_utf8_encodable(session_id))
    ):
        errors["session_id"] = [_text(session_id, SESSION_MAX)]
    platform = get("platform")
    if platform is None:
        platform = ""
    elif not (
        type(platform) is str
        and len(platform) <= PLATFORM_MAX
        and "\x00" not in platform
        and (platform.isascii() or is_utf8_encodable(platform))
    ):
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
            except (TypeError, ValueError, RecursionError):  # RecursionError: nested too deep
                problems = properties_content_errors(properties) or [
                    "Must hold only JSON values (no NaN or Infinity)."
                ]
            else:
                if len(properties_json) > MAX_PROPERTIES_BYTES:
                    problems = [f"Must be at most {MAX_PROPERTIES_BYTES} bytes of JSON."]
                # Only what might hold trouble is walked: escapes of NUL or of surrogates,
                # nested containers (compact JSON: a nested object follows its key's colon),
                # or a number beyond a double. The usual flat ASCII object costs four searches.
                elif (
                    (
                        "\\u" in properties_json
                        and ("\\u0000" in properties_json or "\\ud" in properties_json)
                    )
                    or ":{" in properties_json
                    or "[" in properties_json
                    or (len(properties_json) > 308 and _LONG_DIGITS.search(properties_json))
                ):
                    problems = properties_content_errors(properties)
        if problems:
            errors["properties"] = problems
    elif spec is not None and spec.properties:
        problems = properties_errors(spec, properties)
        if problems:
            errors["properties"] = problems

    if errors:
        rejected[index] = errors
        return None
    return EventRow(
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


def resolve_catalogue(
    rows: list[EventRow], rejected: dict[int, dict[str, list[str]]]
) -> list[EventRow]:
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
