"""The local dates on which each learner was active, in the learner's own timezone.

Kept on its own so that one shared learner-local time module can take it over.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db import connection

from accounts.models import User
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event


def learner_local_dates(
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    user_ids: Iterable[int] | None = None,
) -> dict[int, tuple[str, set[datetime.date]]]:
    """Each learner's timezone and the local dates on which they were active in [since, until).

    PostgreSQL converts to each learner's own timezone in SQL and returns one row per learner
    and day; other databases (the embedded SQLite, small data) convert in Python.
    """
    ids = None if user_ids is None else sorted(set(user_ids))
    if ids == []:
        return {}
    result: dict[int, tuple[str, set[datetime.date]]] = {}
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT e.user_id, u.timezone, (e.occurred_at AT TIME ZONE u.timezone)::date"
            f" FROM {Event._meta.db_table} e JOIN {User._meta.db_table} u ON u.id = e.user_id"
            " WHERE e.occurred_at >= %s AND e.occurred_at < %s AND NOT (e.type = ANY(%s))"
        )
        params: list[Any] = [since, until, sorted(NON_ACTIVITY_TYPES)]
        if ids is not None:
            sql += " AND e.user_id = ANY(%s)"
            params.append(ids)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for user_id, tz_name, day in cursor.fetchall():
                result.setdefault(user_id, (tz_name, set()))[1].add(day)
        return result
    events = Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until).exclude(
        type__in=NON_ACTIVITY_TYPES
    )
    if ids is not None:
        events = events.filter(user_id__in=ids)
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    for user_id, tz_name, occurred_at in events.values_list(
        "user_id", "user__timezone", "occurred_at"
    ).iterator():
        tz = zones.setdefault(tz_name, zoneinfo.ZoneInfo(tz_name))
        result.setdefault(user_id, (tz_name, set()))[1].add(occurred_at.astimezone(tz).date())
    return result
