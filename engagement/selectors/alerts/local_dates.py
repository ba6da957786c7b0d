"""The local dates on which each learner was active, in the learner's own timezone."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from core.localtime import local_times
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event


def learner_local_dates(
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    user_ids: Iterable[int] | None = None,
) -> dict[int, tuple[str, set[datetime.date]]]:
    """Each learner's timezone and the local dates on which they were active in [since, until).

    One query; the conversion to each learner's timezone is core.localtime's (in SQL on
    PostgreSQL, one row per learner and local day).
    """
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids == []:
        return {}
    events = Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until).exclude(
        type__in=NON_ACTIVITY_TYPES
    )
    if ids is not None:
        events = events.filter(user_id__in=ids)
    result: dict[int, tuple[str, set[datetime.date]]] = {}
    for row in local_times(events, key="user_id", at="occurred_at", tz="user__timezone", per="day"):
        result.setdefault(row.key, (row.tz_name, set()))[1].add(row.local.date())
    return result
