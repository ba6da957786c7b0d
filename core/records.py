"""Plain records passed from one app to another: frozen, no model instances, no queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass(frozen=True, slots=True)
class XpEntryRecord:
    """One new row of the XP ledger, as gamification hands it to its leaderboards and leagues.

    `amount` is negative for a revocation; `local_date` is the day of `occurred_at` in the
    learner's own timezone, as the ledger stores it; `action_code` is None for staff grants
    and revocations.
    """

    id: int
    user_id: int
    kind: str
    action_code: str | None
    amount: int
    course_id: int | None
    occurred_at: datetime
    local_date: date


@dataclass(frozen=True, slots=True)
class MomentRecord:
    """One newly recorded gamification moment (a level-up, an unlock, a milestone, ...), as the
    handlers named in ``settings.STRIDE_MOMENT_HANDLERS`` receive it after the commit.

    `kind` is one of `gamification.models.Moment.Kind`; `data` is plain JSON data (e.g. the
    level reached), a copy that handlers read only; `dedupe_key` is the moment's unique key.
    """

    id: int
    user_id: int
    kind: str
    title: str
    body: str
    data: Mapping[str, Any]
    dedupe_key: str
    occurred_at: datetime
