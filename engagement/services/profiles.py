"""Personalization profiles: when, on which days, how fast and in which format a learner studies.

Everything is read from the last 56 days of the learner's own activity, in their own timezone:

- `study_hours`: the (up to) 3 local hours with the most events, most used first.
- `preferred_days`: the (up to) 3 ISO weekdays (1 = Monday) with the most events.
- `best_send_hour`: the local hour at which the learner most often *starts* a study day (the
  hour of the first event of each active day, the most frequent one; ties go to the earlier
  hour) — a nudge sent then meets them as they sit down.
- `pace`: lessons completed per week over the days observed (`observed_days`: from the first
  active day in the window to `as_of`), rounded to the one decimal staff see, and banded on
  that figure: below 1.0 slow, 1.0 to below 3.0 steady, 3.0 or more fast. With fewer than
  MIN_OBSERVED_DAYS observed or MIN_ACTIVE_DAYS active days it is "unknown", shown as "not
  enough data yet" beside the evidence (lessons completed in the days observed), never beside
  a rate that would contradict it.
- `preferred_format`: from `format_uses`, how often the learner used each format: video = a
  lesson whose video they watched (however many progress events it sent) or a video outside
  a lesson; reading = a lesson completed without watching any video, or a download; quiz = a
  quiz submitted; discussion = a post or reply. Page views and lesson starts are navigation,
  not a format (counting them made every demo learner a "reader"). The format is the most
  used one when there are at least MIN_FORMAT_USES uses and it leads the next by FORMAT_LEAD;
  "mixed" when none leads so; blank ("not enough data yet") below MIN_FORMAT_USES.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.localtime import local_times
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event, PersonalizationProfile

WINDOW_DAYS = 56
TOP_HOURS = 3
TOP_DAYS = 3
SLOW_BELOW = 1.0  # lessons completed per week
FAST_FROM = 3.0
# A pace is a weekly rate: over less than two weeks one busy or quiet day moves it across a
# band, and a learner seen on one or two days has shown no rhythm yet.
MIN_OBSERVED_DAYS = 14
MIN_ACTIVE_DAYS = 3
# Fewer uses than this in eight weeks is two or three study sessions: one video or quiz more
# would change the answer.
MIN_FORMAT_USES = 6
# A preference is one format used clearly more than the next; closer than this the learner
# mixes formats (demo learners, for one, watch every lesson's video and take its quiz).
FORMAT_LEAD = 1.5
MIXED = "mixed"
FORMATS = ("video", "reading", "quiz", "discussion")  # also the tie-break order
VIDEO_TYPE_PREFIX = "video_"
QUIZ_USE_TYPES = frozenset({"quiz_submitted"})  # quiz_passed is a result, not a second use
DISCUSSION_TYPE_PREFIX = "discussion_"
READING_TYPES = frozenset({"resource_download"})


@dataclass(frozen=True)
class LessonUses:
    """One learner's lessons in the window, by how they took them in."""

    watched: int = 0  # lessons with at least one video event
    read: int = 0  # lessons completed without any video event
    loose_videos: int = 0  # video events that name no lesson


def format_uses(type_counts: Counter[str], lessons: LessonUses) -> dict[str, int]:
    """How often the learner used each format (see the module docstring), zeros left out."""
    uses = {
        "video": lessons.watched + lessons.loose_videos,
        "reading": lessons.read + sum(n for t, n in type_counts.items() if t in READING_TYPES),
        "quiz": sum(n for t, n in type_counts.items() if t in QUIZ_USE_TYPES),
        "discussion": sum(
            n for t, n in type_counts.items() if t.startswith(DISCUSSION_TYPE_PREFIX)
        ),
    }
    return {f: uses[f] for f in FORMATS if uses[f]}


def preferred_format_of(uses: dict[str, int]) -> str:
    """The format the uses point to: a format, MIXED, or "" (not enough data yet)."""
    if sum(uses.values()) < MIN_FORMAT_USES:
        return ""
    ranked = sorted(FORMATS, key=lambda f: (-uses.get(f, 0), FORMATS.index(f)))
    top, second = uses.get(ranked[0], 0), uses.get(ranked[1], 0)
    return ranked[0] if top >= FORMAT_LEAD * second else MIXED


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


def pace_of(*, lessons_per_week: float, observed_days: int, active_days: int) -> str:
    """The pace band of a rate as shown (one decimal), or UNKNOWN below the evidence needed."""
    Pace = PersonalizationProfile.Pace
    if observed_days < MIN_OBSERVED_DAYS or active_days < MIN_ACTIVE_DAYS:
        return Pace.UNKNOWN
    if lessons_per_week < SLOW_BELOW:
        return Pace.SLOW
    if lessons_per_week < FAST_FROM:
        return Pace.STEADY
    return Pace.FAST


def profile_from_tally(
    *,
    user_id: int,
    tally: LocalTally,
    type_counts: Counter[str],
    as_of: datetime.date,
    now: datetime.datetime,
    lessons: LessonUses | None = None,
) -> PersonalizationProfile:
    """Build (unsaved) the profile that a learner's tallies describe."""
    uses = format_uses(type_counts, lessons or LessonUses())
    observed_days = 0
    if tally.days:
        observed_days = min(WINDOW_DAYS, max(1, (as_of - min(tally.days)).days + 1))
    completed = type_counts["lesson_completed"]
    # Rounded to what the page shows, so the band and the figure beside it always agree.
    lessons_per_week = round(completed * 7 / observed_days, 1) if observed_days else 0.0
    pace = pace_of(
        lessons_per_week=lessons_per_week,
        observed_days=observed_days,
        active_days=len(tally.days),
    )
    starts = _ranked(tally.start_hours, 1)
    return PersonalizationProfile(
        user_id=user_id,
        study_hours=_ranked(tally.hours, TOP_HOURS),
        preferred_days=_ranked(tally.weekdays, TOP_DAYS),
        best_send_hour=starts[0] if starts else None,
        pace=pace,
        lessons_per_week=lessons_per_week,
        lessons_completed=completed,
        observed_days=observed_days,
        preferred_format=preferred_format_of(uses),
        format_uses=uses,
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
    lessons = _lesson_uses(since=since, until=until, user_ids=ids)
    profiles = [
        profile_from_tally(
            user_id=user_id,
            tally=tally,
            type_counts=type_counts.get(user_id, Counter()),
            as_of=as_of,
            now=now,
            lessons=lessons.get(user_id),
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
            "lessons_completed",
            "observed_days",
            "preferred_format",
            "format_uses",
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


def _lesson_uses(
    *, since: datetime.datetime, until: datetime.datetime, user_ids: Iterable[int] | None
) -> dict[int, LessonUses]:
    """Each learner's lessons watched or read in [since, until), in one GROUP BY (learner,
    lesson); video events without a lesson are counted one by one."""
    events = Event.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
    if user_ids is not None:
        events = events.filter(user_id__in=list(user_ids))
    rows = (
        events.filter(Q(type__startswith=VIDEO_TYPE_PREFIX) | Q(type="lesson_completed"))
        .values("user_id", "lesson_id")
        .annotate(
            videos=Count("id", filter=Q(type__startswith=VIDEO_TYPE_PREFIX)),
            completions=Count("id", filter=Q(type="lesson_completed")),
        )
        .order_by()
        .values_list("user_id", "lesson_id", "videos", "completions")
    )
    tallies: dict[int, list[int]] = {}
    for user_id, lesson_id, videos, completions in rows.iterator():
        watched, read, loose = tallies.setdefault(user_id, [0, 0, 0])
        if lesson_id is None:
            tallies[user_id][2] = loose + videos
        elif videos:
            tallies[user_id][0] = watched + 1
        elif completions:
            tallies[user_id][1] = read + 1
    return {u: LessonUses(watched=w, read=r, loose_videos=v) for u, (w, r, v) in tallies.items()}
