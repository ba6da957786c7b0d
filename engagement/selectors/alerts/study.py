"""Rule candidates from how learners study: low quiz scores, unfinished videos, missed lives.

Each is per enrolment: the quizzes, videos and live sessions of one course (events that name
no course form their own group, an alert with no course).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FloatField,
    IntegerField,
    Max,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, RowNumber

from engagement.models import Event
from engagement.selectors.alerts.candidate import DAY, AlertCandidate


def low_quiz_scores_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolments whose last `quizzes` quizzes (within `lookback_days`) average below
    `max_mean`."""
    wanted = int(params["quizzes"])
    rows = (
        Event.objects.filter(
            type="quiz_submitted", occurred_at__gte=now - int(params["lookback_days"]) * DAY
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("user_id"), F("course_id")],
                order_by=[F("occurred_at").desc(), F("id").desc()],
            ),
            score=Cast(KeyTextTransform("score", "properties"), FloatField()),
            max_score=Cast(KeyTextTransform("max_score", "properties"), FloatField()),
        )
        .filter(rank__lte=wanted)
        .values_list("user_id", "course_id", "score", "max_score")
    )
    by_enrolment: dict[tuple[int, int | None], list[float]] = defaultdict(list)
    for user_id, course_id, score, max_score in rows.iterator():
        if score is not None and max_score:
            by_enrolment[user_id, course_id].append(score / max_score)
    candidates = []
    for (user_id, course_id), quizzes in by_enrolment.items():
        if len(quizzes) < wanted:
            continue
        mean = sum(quizzes) / len(quizzes)
        if mean >= float(params["max_mean"]):
            continue
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"Last {len(quizzes)} quizzes averaged {round(100 * mean)}%",
                context={
                    "mean_score": round(mean, 4),
                    "scores": [round(ratio, 4) for ratio in quizzes],
                },
                course_id=course_id,
            )
        )
    return candidates


def abandoned_videos_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolments with `min_videos`+ videos left below `max_percent` and untouched for a while.

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
    abandoned: dict[tuple[int, int | None], list[dict[str, Any]]] = defaultdict(list)
    for user_id, course_id, lesson_id, video_id, percent, occurred_at in rows.iterator():
        if percent is None or percent >= max_percent or occurred_at > idle_since:
            continue
        abandoned[user_id, course_id].append(
            {
                "video": video_id,
                "lesson_id": lesson_id,
                "course_id": course_id,
                "percent": percent,
                "last_seen_at": occurred_at.isoformat(),
            }
        )
    candidates = []
    for (user_id, course_id), videos in abandoned.items():
        if len(videos) < int(params["min_videos"]):
            continue
        videos.sort(key=lambda v: v["last_seen_at"], reverse=True)
        candidates.append(
            AlertCandidate(
                user_id=user_id,
                message=f"{len(videos)} videos left unfinished",
                context={"videos": videos[:10], "count": len(videos)},
                course_id=course_id,
            )
        )
    return candidates


def missed_live_sessions_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolments whose learner missed `min_missed`+ of its live sessions in the last `days`
    days."""
    days = int(params["days"])
    missed = Event.objects.filter(type="live_session_missed", occurred_at__gte=now - days * DAY)
    rows = (
        missed.values("user_id", "course_id")
        .annotate(missed=Count("id"), last=Max("occurred_at"))
        .filter(missed__gte=int(params["min_missed"]))
        .order_by()
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
