"""The local dates on which each learner (or each learner in each course) was active, in the
learner's own timezone."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import BigIntegerField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce

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


# Encodes (learner, course) as one integer key for core.localtime's one-field grouping; course
# ids stay far below it, and 0 stands for "no course".
_PAIR_BASE = 2**32


def enrolment_local_dates(
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    user_ids: Iterable[int],
) -> dict[tuple[int, int | None], tuple[str, set[datetime.date]]]:
    """Each (learner, course)'s timezone and local active dates in [since, until).

    Keyed by (user id, course id), with course None for the learner's events that name no
    course. One query, like ``learner_local_dates``.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    events = (
        Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until, user_id__in=ids)
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .annotate(
            _pair=ExpressionWrapper(
                F("user_id") * _PAIR_BASE + Coalesce(F("course_id"), Value(0)),
                output_field=BigIntegerField(),
            )
        )
    )
    result: dict[tuple[int, int | None], tuple[str, set[datetime.date]]] = {}
    for row in local_times(events, key="_pair", at="occurred_at", tz="user__timezone", per="day"):
        user_id, course_id = divmod(int(row.key), _PAIR_BASE)
        key = (user_id, course_id or None)
        result.setdefault(key, (row.tz_name, set()))[1].add(row.local.date())
    return result
