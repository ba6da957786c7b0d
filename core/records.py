"""Plain records passed from one app to another: frozen, no model instances, no queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored behaviour event, as ingestion hands it to the handlers named in settings.

    `id` is the stored event's primary key; `user_id`, `course_id` and `lesson_id` are the
    primary keys of the learner, course and lesson it points at (resolved, never external
    ids). `properties` is the event's validated properties object; handlers read it only.
    """

    id: int
    source: str
    client_id: str
    type: str
    user_id: int
    course_id: int | None
    lesson_id: int | None
    occurred_at: datetime
    received_at: datetime
    session_id: str
    device: str
    platform: str
    properties: Mapping[str, Any]
