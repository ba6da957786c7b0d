"""Learner-local time: a learner's day as UTC bounds, the local date and hour of an instant, and
rows of (key, timezone name, instant) turned into local wall times on either database.

Every app that counts "days" or "hours" the way a learner lives them uses this module, so that
the day boundary (midnight in the learner's timezone, DST included) is drawn in one place.
Core imports no Stride app: callers pass the queryset they own and name its fields.

Local datetimes are *naive* wall times (what the learner's clock showed), as PostgreSQL's
``timestamptz AT TIME ZONE zone`` gives them.
"""

from __future__ import annotations

import datetime
import functools
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

import pandas as pd
from django.db import connections
from django.db.models import Count, DateTimeField, F, Func, QuerySet

Per = Literal["instant", "hour", "day"]

# A local date lies within [UTC time - 12 h, UTC time + 14 h] (Pacific/Kiritimati is +14:00,
# Etc/GMT+12 is -12:00); these margins turn a local-date range into a UTC range that surely
# contains it in any timezone (callers then filter exactly per learner).
MAX_BEHIND_UTC = datetime.timedelta(hours=12)
MAX_AHEAD_OF_UTC = datetime.timedelta(hours=14)


@functools.lru_cache(maxsize=1024)
def zone(tz_name: str) -> ZoneInfo:
    """The ZoneInfo of a timezone name, built once per name (building one reads a file)."""
    return ZoneInfo(tz_name)


def local_datetime(instant: datetime.datetime, tz_name: str) -> datetime.datetime:
    """The naive wall time that an aware instant shows in timezone `tz_name`."""
    return instant.astimezone(zone(tz_name)).replace(tzinfo=None)


def local_date(instant: datetime.datetime, tz_name: str) -> datetime.date:
    """The local date of an aware instant in timezone `tz_name`."""
    return instant.astimezone(zone(tz_name)).date()


def local_hour(instant: datetime.datetime, tz_name: str) -> int:
    """The local hour (0-23) of an aware instant in timezone `tz_name`."""
    return instant.astimezone(zone(tz_name)).hour


def local_day_bounds(
    day: datetime.date, tz_name: str
) -> tuple[datetime.datetime, datetime.datetime]:
    """Return [start, end) in UTC of local date `day` in `tz_name` (23 or 25 h across DST).

    A midnight that does not exist (a DST jump at 00:00) starts the day at the jump.
    """
    tz = zone(tz_name)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=tz)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), tzinfo=tz)
    return start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def utc_bounds_of_local_dates(
    start: datetime.date, end: datetime.date
) -> tuple[datetime.datetime, datetime.datetime]:
    """Return UTC instants surely enclosing local dates start..end in any timezone."""
    lo = datetime.datetime.combine(start, datetime.time(), tzinfo=datetime.UTC) - MAX_AHEAD_OF_UTC
    hi = (
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
        + MAX_BEHIND_UTC
    )
    return lo, hi


class AtTimeZone(Func):
    """PostgreSQL's ``instant AT TIME ZONE zone``: the naive local wall time of an instant."""

    arg_joiner = " AT TIME ZONE "
    template = "(%(expressions)s)"
    output_field = DateTimeField()


class DateTrunc(Func):
    """PostgreSQL's ``date_trunc(unit, timestamp)`` on a naive local time (no zone applied).

    Django's own Trunc converts a DateTimeField to the current timezone first, which would
    shift a wall time that is already local.
    """

    template = "date_trunc('%(unit)s', %(expressions)s)"
    output_field = DateTimeField()

    def __init__(self, unit: Literal["hour", "day"], expression: Any) -> None:
        super().__init__(expression, unit=unit)


class LocalTime(NamedTuple):
    """One group of rows: its key, timezone name, local wall time (truncated to `per`), count."""

    key: Any
    tz_name: str
    local: datetime.datetime
    count: int


def _truncate(local: datetime.datetime, per: Per) -> datetime.datetime:
    if per == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    if per == "day":
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local


def local_times(
    queryset: QuerySet[Any],
    *,
    key: str,
    at: str,
    tz: str,
    per: Per = "instant",
    in_database: bool | None = None,
) -> Iterator[LocalTime]:
    """Group the rows of `queryset` by (key, timezone, local wall time of `at` cut to `per`).

    `key`, `at` and `tz` are field paths on the queryset's model (e.g. ``"user_id"``,
    ``"occurred_at"``, ``"user__timezone"``). One row comes per distinct group, in no order,
    with the number of rows in it; the answers are the same on every database.
    PostgreSQL converts and groups in SQL (``AT TIME ZONE``); other databases (SQLite knows no
    timezones) convert in Python, one ZoneInfo per distinct name. `in_database` forces the
    path (True needs PostgreSQL); None picks by the queryset's database.
    """
    if in_database is None:
        in_database = connections[queryset.db].vendor == "postgresql"
    if in_database:
        local: Any = AtTimeZone(F(at), F(tz))
        if per != "instant":
            local = DateTrunc(per, local)
        rows = (
            queryset.annotate(_local=local)
            .values(key, tz, "_local")
            .annotate(_n=Count("*"))
            .order_by()
            .values_list(key, tz, "_local", "_n")
        )
        for row in rows.iterator():
            yield LocalTime(*row)
        return
    counts: Counter[tuple[Any, str, datetime.datetime]] = Counter()
    for row_key, tz_name, instant in queryset.values_list(key, tz, at).order_by().iterator():
        counts[row_key, tz_name, _truncate(local_datetime(instant, tz_name), per)] += 1
    for (row_key, tz_name, wall), n in counts.items():
        yield LocalTime(row_key, tz_name, wall, n)


def naive_local_series(
    instants: pd.Series, keys: pd.Series, tz_of_key: Mapping[Any, str]
) -> pd.Series:
    """Return each instant's naive local time in its key's timezone (UTC for an unknown key).

    The pandas counterpart of `local_times`'s Python path for callers holding a frame,
    converting one distinct timezone at a time.
    """
    utc = pd.to_datetime(instants, utc=True)
    tz = keys.map(tz_of_key).fillna("UTC")
    out = pd.Series(pd.NaT, index=instants.index, dtype="datetime64[ns]")
    for name in tz.unique():
        m = tz == name
        out[m] = utc[m].dt.tz_convert(zone(name)).dt.tz_localize(None)
    return out
