"""Reads for alerts: the alert list, and which learners each alert rule matches right now.

Each `<code>_candidates` finder answers with one or a few bulk queries over events, scores and
enrollments (never a query per learner) and returns plain `AlertCandidate`s; cooldowns and
de-duplication are the service's business (engagement.services.alerts).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, RowNumber

from accounts.models import User
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Alert, EngagementScore, Event, ScoringRun
from learning.models import Enrollment

DAY = datetime.timedelta(days=1)
SESSION_TYPES = ("login", "session_start")


@dataclass(frozen=True)
class AlertCandidate:
    """A learner a rule matches, with the words and numbers the alert will carry."""

    user_id: int
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    course_id: int | None = None


CandidateFinder = Callable[[datetime.datetime, Mapping[str, Any]], list[AlertCandidate]]


def alert_list() -> QuerySet[Alert]:
    """Alerts, highest priority and newest first, with rule, learner and course loaded."""
    return Alert.objects.select_related("rule", "user", "course").order_by(
        "-priority", "-created_at", "-id"
    )


def alert_blocked_user_ids(
    *, rule_id: int, now: datetime.datetime, cooldown_hours: int
) -> set[int]:
    """Learners who must not get a new alert of this rule: unresolved, or inside the cooldown."""
    since = now - datetime.timedelta(hours=cooldown_hours)
    return set(
        Alert.objects.filter(rule_id=rule_id)
        .filter(
            Q(status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]) | Q(created_at__gt=since)
        )
        .values_list("user_id", flat=True)
    )


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


def _activity() -> QuerySet[Event]:
    return Event.objects.exclude(type__in=NON_ACTIVITY_TYPES)


def _active_enrollments(*, on: datetime.date | None = None) -> QuerySet[Enrollment]:
    enrollments = Enrollment.objects.filter(
        user_id=OuterRef("user_id"), status=Enrollment.Status.ACTIVE
    )
    if on is not None:
        # A course that has ended is no sign that the learner should still be coming.
        enrollments = enrollments.filter(
            Q(course__ends_on__isnull=True) | Q(course__ends_on__gte=on)
        )
    return enrollments


def _latest_done_run(*, before: datetime.date | None = None) -> ScoringRun | None:
    runs = ScoringRun.objects.filter(status=ScoringRun.Status.DONE)
    if before is not None:
        runs = runs.filter(as_of__lte=before)
    return runs.order_by("-as_of", "-finished_at", "-id").first()


def critical_risk_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose score in the latest finished scoring run has one of `levels`."""
    run = _latest_done_run()
    if run is None:
        return []
    scores = EngagementScore.objects.filter(run=run, level__in=params["levels"]).values_list(
        "user_id", "drop_off_risk", "level", "as_of", "drivers"
    )
    return [
        AlertCandidate(
            user_id=user_id,
            message=f"Drop-off risk {risk}/100 ({level}) as of {as_of:%Y-%m-%d}",
            context={
                "drop_off_risk": risk,
                "level": level,
                "as_of": as_of.isoformat(),
                "run_id": run.pk,
                "drivers": list(drivers or [])[:3],
            },
        )
        for user_id, risk, level, as_of, drivers in scores.iterator()
    ]


def risk_rising_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose risk rose by `min_increase`+ since a run `min_days_between`+ days older."""
    latest = _latest_done_run()
    if latest is None:
        return []
    earlier = _latest_done_run(
        before=latest.as_of - datetime.timedelta(days=int(params["min_days_between"]))
    )
    if earlier is None:
        return []
    previous = EngagementScore.objects.filter(run=earlier, user_id=OuterRef("user_id"))
    scores = (
        EngagementScore.objects.filter(run=latest)
        .annotate(previous=Subquery(previous.values("drop_off_risk")[:1]))
        .filter(drop_off_risk__gte=F("previous") + int(params["min_increase"]))
        .values_list("user_id", "drop_off_risk", "previous")
    )
    days = (latest.as_of - earlier.as_of).days
    return [
        AlertCandidate(
            user_id=user_id,
            message=f"Risk up {risk - before} points in {days} days ({before} → {risk})",
            context={
                "drop_off_risk": risk,
                "previous_risk": before,
                "increase": risk - before,
                "as_of": latest.as_of.isoformat(),
                "previous_as_of": earlier.as_of.isoformat(),
                "days": days,
            },
        )
        for user_id, risk, before in scores.iterator()
    ]


def _silent_since(
    events: QuerySet[Event],
    enrollments: QuerySet,
    *,
    now: datetime.datetime,
    days: int,
    what: str,
    key: str,
) -> list[AlertCandidate]:
    """Enrolled learners whose latest of `events` is `days`+ days old, with their course."""
    rows = (
        events.filter(Exists(enrollments))
        .values("user_id")
        .annotate(last=Max("occurred_at"))
        .filter(last__lte=now - days * DAY)
        .annotate(course_id=Subquery(enrollments.order_by("-enrolled_at").values("course_id")[:1]))
        .values_list("user_id", "last", "course_id")
    )
    candidates = []
    for user_id, last, course_id in rows.iterator():
        silent = (now - last).days
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"No {what} for {silent} days",
                context={f"days_since_{key}": silent, f"last_{key}_at": last.isoformat()},
                course_id=course_id,
            )
        )
    return candidates


def inactive_14_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolled learners last active `days`+ days ago but within `active_within_days`."""
    return _silent_since(
        _activity().filter(occurred_at__gte=now - int(params["active_within_days"]) * DAY),
        _active_enrollments(),
        now=now,
        days=int(params["days"]),
        what="activity",
        key="activity",
    )


def no_login_7_days_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners with a running enrollment whose last login/session is `days`+ days old.

    Only learners seen logging in within `lookback_days` count, so that an integration that
    never sends logins does not flag everyone.
    """
    return _silent_since(
        Event.objects.filter(
            type__in=SESSION_TYPES,
            occurred_at__gte=now - int(params["lookback_days"]) * DAY,
        ),
        _active_enrollments(on=now.date()),
        now=now,
        days=int(params["days"]),
        what="login",
        key="login",
    )


def low_quiz_scores_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose last `quizzes` quizzes (within `lookback_days`) average below `max_mean`."""
    wanted = int(params["quizzes"])
    rows = (
        Event.objects.filter(
            type="quiz_submitted", occurred_at__gte=now - int(params["lookback_days"]) * DAY
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("user_id")],
                order_by=[F("occurred_at").desc(), F("id").desc()],
            ),
            score=Cast(KeyTextTransform("score", "properties"), FloatField()),
            max_score=Cast(KeyTextTransform("max_score", "properties"), FloatField()),
        )
        .filter(rank__lte=wanted)
        .values_list("user_id", "course_id", "score", "max_score")
    )
    by_user: dict[int, list[tuple[int | None, float]]] = defaultdict(list)
    for user_id, course_id, score, max_score in rows.iterator():
        if score is not None and max_score:
            by_user[user_id].append((course_id, score / max_score))
    candidates = []
    for user_id, quizzes in by_user.items():
        if len(quizzes) < wanted:
            continue
        mean = sum(ratio for _, ratio in quizzes) / len(quizzes)
        if mean >= float(params["max_mean"]):
            continue
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"Last {len(quizzes)} quizzes averaged {round(100 * mean)}%",
                context={
                    "mean_score": round(mean, 4),
                    "scores": [round(ratio, 4) for _, ratio in quizzes],
                },
                course_id=quizzes[0][0],  # the most recent quiz's course
            )
        )
    return candidates


def weak_first_week_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners whose first enrollment is 7-14 days old and who studied on < 2 of its 7 days.

    Days are the learner's local days: the enrollment's own day and the following ones.
    """
    first_days = int(params["first_days"])
    firsts = (
        Enrollment.objects.values("user_id")
        .annotate(first=Min("enrolled_at"))
        .filter(
            first__gt=now - int(params["max_days_since_enrollment"]) * DAY,
            first__lte=now - int(params["min_days_since_enrollment"]) * DAY,
        )
        .filter(Exists(_active_enrollments()))
    )
    first_at = {user_id: first for user_id, first in firsts.values_list("user_id", "first")}
    if not first_at:
        return []
    first_course = {
        user_id: course_id
        for user_id, course_id, enrolled_at in Enrollment.objects.filter(
            user_id__in=first_at
        ).values_list("user_id", "course_id", "enrolled_at")
        if enrolled_at == first_at[user_id]
    }
    zones = dict(User.objects.filter(id__in=first_at).values_list("id", "timezone"))
    active = learner_local_dates(
        since=min(first_at.values()) - DAY, until=now, user_ids=first_at.keys()
    )
    candidates = []
    for user_id, first in first_at.items():
        start = first.astimezone(zoneinfo.ZoneInfo(zones[user_id])).date()
        end = start + datetime.timedelta(days=first_days - 1)
        days = {d for d in active.get(user_id, ("", set()))[1] if start <= d <= end}
        if len(days) >= int(params["min_active_days"]):
            continue
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"Active on {len(days)} of the first {first_days} days after enrolling",
                context={
                    "active_days": len(days),
                    "first_days": first_days,
                    "enrolled_at": first.isoformat(),
                },
                course_id=first_course.get(user_id),
            )
        )
    return candidates


def streak_at_risk_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners active each of the last `min_streak_days`+ local days, not yet today, late on.

    "Late" is `local_hour` o'clock or later in the learner's own timezone, so that the alert
    comes while there is still time to save the streak.
    """
    min_streak = int(params["min_streak_days"])
    lookback = min_streak + 7  # enough to tell a streak's length, cheap enough hourly
    active = learner_local_dates(since=now - (lookback + 1) * DAY, until=now)
    candidates = []
    for user_id, (tz_name, days) in active.items():
        local_now = now.astimezone(zoneinfo.ZoneInfo(tz_name))
        today = local_now.date()
        if local_now.hour < int(params["local_hour"]) or today in days:
            continue
        streak = 0
        while today - datetime.timedelta(days=streak + 1) in days:
            streak += 1
        if streak < min_streak:
            continue
        shown = f"{streak}+" if streak >= lookback else str(streak)
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"{shown}-day streak ends tonight: no activity yet today",
                context={
                    "streak_days": streak,
                    "local_time": local_now.strftime("%H:%M"),
                    "timezone": tz_name,
                },
            )
        )
    return candidates


def abandoned_videos_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners with `min_videos`+ videos left below `max_percent` and untouched for a while.

    A video is the `video` property of video_progress events, or else their lesson; its state
    is its last progress event within `lookback_days`.
    """
    rows = (
        Event.objects.filter(
            type="video_progress", occurred_at__gte=now - int(params["lookback_days"]) * DAY
        )
        .alias(video=KeyTextTransform("video", "properties"))
        .filter(Q(video__isnull=False) | Q(lesson_id__isnull=False))
        .annotate(
            video_id=F("video"),
            rank=Window(
                RowNumber(),
                partition_by=[
                    F("user_id"),
                    Coalesce(F("video"), Value(""), output_field=CharField()),
                    Case(
                        When(video__isnull=True, then=F("lesson_id")),
                        default=Value(None),
                        output_field=IntegerField(),
                    ),
                ],
                order_by=[F("occurred_at").desc(), F("id").desc()],
            ),
            percent=Cast(KeyTextTransform("percent", "properties"), FloatField()),
        )
        .filter(rank=1)
        .values_list("user_id", "course_id", "lesson_id", "video_id", "percent", "occurred_at")
    )
    # Progress and idleness are checked here, not in SQL: a WHERE next to the window would
    # run before it and pick the wrong "last" event.
    idle_since = now - int(params["idle_days"]) * DAY
    max_percent = float(params["max_percent"])
    abandoned: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for user_id, course_id, lesson_id, video_id, percent, occurred_at in rows.iterator():
        if percent is None or percent >= max_percent or occurred_at > idle_since:
            continue
        abandoned[user_id].append(
            {
                "video": video_id,
                "lesson_id": lesson_id,
                "course_id": course_id,
                "percent": percent,
                "last_seen_at": occurred_at.isoformat(),
            }
        )
    candidates = []
    for user_id, videos in abandoned.items():
        if len(videos) < int(params["min_videos"]):
            continue
        videos.sort(key=lambda v: v["last_seen_at"], reverse=True)
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"{len(videos)} videos left unfinished",
                context={"videos": videos[:10], "count": len(videos)},
                course_id=videos[0]["course_id"],
            )
        )
    return candidates


def missed_live_sessions_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Learners who missed `min_missed`+ live sessions in the last `days` days."""
    days = int(params["days"])
    missed = Event.objects.filter(type="live_session_missed", occurred_at__gte=now - days * DAY)
    latest = missed.filter(user_id=OuterRef("user_id")).order_by("-occurred_at", "-id")
    rows = (
        missed.values("user_id")
        .annotate(missed=Count("id"), last=Max("occurred_at"))
        .filter(missed__gte=int(params["min_missed"]))
        .annotate(course_id=Subquery(latest.values("course_id")[:1]))
        .values_list("user_id", "missed", "last", "course_id")
    )
    return [
        AlertCandidate(
            user_id=user_id,
            message=f"Missed {count} live sessions in {days} days",
            context={"missed": count, "days": days, "last_missed_at": last.isoformat()},
            course_id=course_id,
        )
        for user_id, count, last, course_id in rows.iterator()
    ]


CANDIDATE_FINDERS: dict[str, CandidateFinder] = {
    "critical_risk": critical_risk_candidates,
    "inactive_14_days": inactive_14_days_candidates,
    "no_login_7_days": no_login_7_days_candidates,
    "low_quiz_scores": low_quiz_scores_candidates,
    "weak_first_week": weak_first_week_candidates,
    "risk_rising": risk_rising_candidates,
    "streak_at_risk": streak_at_risk_candidates,
    "abandoned_videos": abandoned_videos_candidates,
    "missed_live_sessions": missed_live_sessions_candidates,
}


def alert_rule_codes() -> Sequence[str]:
    """The rule codes that have a finder, in evaluation order."""
    return tuple(CANDIDATE_FINDERS)
