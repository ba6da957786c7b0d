"""Personalization profiles: when, on which days, how fast and in which format a learner studies.

Everything is read from the last 56 days of the learner's own activity, in their own timezone:

- `study_hours`: the (up to) 3 local hours with the most events, most used first.
- `preferred_days`: the (up to) 3 ISO weekdays (1 = Monday) with the most events.
- `best_send_hour`: the local hour at which the learner most often *starts* a study day (the
  hour of the first event of each active day, the most frequent one; ties go to the earlier
  hour) — a nudge sent then meets them as they sit down.
- `pace`: lessons completed per week over the days observed (from the first active day in the
  window to `as_of`): below 1 is slow, 1 to below 3 steady, 3 or more fast; unknown with fewer
  than 14 days observed or fewer than 3 active days, since a week or two says little.
- `preferred_format`: video (video_*), reading (page_view, lesson_*, resource_download), quiz
  (quiz_*) or discussion (discussion_*), by share of events; blank when none of these occur.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from core.localtime import local_times
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event, PersonalizationProfile

WINDOW_DAYS = 56
TOP_HOURS = 3
TOP_DAYS = 3
SLOW_BELOW = 1.0  # lessons completed per week
FAST_FROM = 3.0
MIN_OBSERVED_DAYS = 14
MIN_ACTIVE_DAYS = 3
FORMATS = ("video", "reading", "quiz", "discussion")  # also the tie-break order


def format_of_type(event_type: str) -> str | None:
    """The content format an event type belongs to, or None (logins, purchases, ...)."""
    if event_type.startswith("video_"):
        return "video"
    if event_type in ("page_view", "resource_download") or event_type.startswith("lesson_"):
        return "reading"
    if event_type.startswith("quiz_"):
        return "quiz"
    if event_type.startswith("discussion_"):
        return "discussion"
    return None


@dataclass
class LocalTally:
    """One learner's activity counted in local time."""

    hours: Counter[int] = field(default_factory=Counter)  # local hour -> events
    weekdays: Counter[int] = field(default_factory=Counter)  # ISO weekday -> events
    start_hours: Counter[int] = field(default_factory=Counter)  # hour of each day's first event
    days: set[datetime.date] = field(default_factory=set)  # local dates with activity


def _window(as_of: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = as_of - datetime.timedelta(days=WINDOW_DAYS - 1)
    return (
        datetime.datetime.combine(start, datetime.time(), tzinfo=datetime.UTC),
        datetime.datetime.combine(
            as_of + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
        ),
    )


def local_tallies(
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    user_ids: Sequence[int] | None,
    in_database: bool | None = None,
) -> dict[int, LocalTally]:
    """Count each learner's activity in [since, until) by local hour, weekday and day.

    One read of events grouped by learner, local date and local hour (core.localtime: in SQL
    on PostgreSQL); a day's start hour is the earliest hour with activity on that day.
    `in_database` picks core.localtime's path (None: by database).
    """
    events = Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until).exclude(
        type__in=NON_ACTIVITY_TYPES
    )
    if user_ids is not None:
        events = events.filter(user_id__in=list(user_ids))
    tallies: dict[int, LocalTally] = {}
    start_of_day: dict[tuple[int, datetime.date], int] = {}
    rows = local_times(
        events,
        key="user_id",
        at="occurred_at",
        tz="user__timezone",
        per="hour",
        in_database=in_database,
    )
    for user_id, _, local, n in rows:
        tally = tallies.setdefault(user_id, LocalTally())
        tally.hours[local.hour] += n
        tally.weekdays[local.isoweekday()] += n
        tally.days.add(local.date())
        key = (user_id, local.date())
        start_of_day[key] = min(start_of_day.get(key, 24), local.hour)
    for (user_id, _), hour in start_of_day.items():
        tallies[user_id].start_hours[hour] += 1
    return tallies


def _ranked(counter: Counter[int], top: int) -> list[int]:
    return [key for key, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def profile_from_tally(
    *,
    user_id: int,
    tally: LocalTally,
    type_counts: Counter[str],
    as_of: datetime.date,
    now: datetime.datetime,
) -> PersonalizationProfile:
    """Build (unsaved) the profile that a learner's tallies describe."""
    formats: Counter[str] = Counter()
    for event_type, n in type_counts.items():
        fmt = format_of_type(event_type)
        if fmt is not None:
            formats[fmt] += n
    preferred_format = ""
    if formats:
        preferred_format = min(FORMATS, key=lambda f: (-formats[f], FORMATS.index(f)))
    observed_days = 0
    if tally.days:
        observed_days = min(WINDOW_DAYS, max(1, (as_of - min(tally.days)).days + 1))
    lessons_per_week = (
        round(type_counts["lesson_completed"] * 7 / observed_days, 2) if observed_days else 0.0
    )
    if observed_days < MIN_OBSERVED_DAYS or len(tally.days) < MIN_ACTIVE_DAYS:
        pace = PersonalizationProfile.Pace.UNKNOWN
    elif lessons_per_week < SLOW_BELOW:
        pace = PersonalizationProfile.Pace.SLOW
    elif lessons_per_week < FAST_FROM:
        pace = PersonalizationProfile.Pace.STEADY
    else:
        pace = PersonalizationProfile.Pace.FAST
    starts = _ranked(tally.start_hours, 1)
    return PersonalizationProfile(
        user_id=user_id,
        study_hours=_ranked(tally.hours, TOP_HOURS),
        preferred_days=_ranked(tally.weekdays, TOP_DAYS),
        best_send_hour=starts[0] if starts else None,
        pace=pace,
        lessons_per_week=lessons_per_week,
        preferred_format=preferred_format,
        events_considered=sum(tally.hours.values()),
        updated_at=now,
    )


@transaction.atomic
def profiles_refresh(
    *, as_of: datetime.date | None = None, user_ids: Sequence[int] | None = None
) -> int:
    """Recompute the profile of every learner active in the 56 days up to `as_of`; return how many.

    Learners without activity in the window keep their last profile (their habits are still
    the best guess we have).
    """
    now = timezone.now()
    as_of = as_of or timezone.localdate(now)
    since, until = _window(as_of)
    ids = None if user_ids is None else sorted(set(user_ids))
    tallies = local_tallies(since=since, until=until, user_ids=ids)
    if not tallies:
        return 0
    type_counts = _type_counts(since=since, until=until, user_ids=ids)
    profiles = [
        profile_from_tally(
            user_id=user_id,
            tally=tally,
            type_counts=type_counts.get(user_id, Counter()),
            as_of=as_of,
            now=now,
        )
        for user_id, tally in tallies.items()
    ]
    PersonalizationProfile.objects.bulk_create(
        profiles,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=[
            "study_hours",
            "preferred_days",
            "best_send_hour",
            "pace",
            "lessons_per_week",
            "preferred_format",
            "events_considered",
            "updated_at",
        ],
    )
    return len(profiles)


def _type_counts(
    *, since: datetime.datetime, until: datetime.datetime, user_ids: Iterable[int] | None
) -> dict[int, Counter[str]]:
    events = Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until).exclude(
        type__in=NON_ACTIVITY_TYPES
    )
    if user_ids is not None:
        events = events.filter(user_id__in=list(user_ids))
    counts: dict[int, Counter[str]] = {}
    rows = events.values("user_id", "type").annotate(n=Count("id")).order_by()
    for row in rows.values_list("user_id", "type", "n").iterator():
        counts.setdefault(row[0], Counter())[row[1]] = row[2]
    return counts
