"""Reads of stored engagement scores: the current run's snapshot, one row per enrolment."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from engagement.models import EngagementScore
from engagement.selectors.dashboard import course_scores, scoring_run_current


def score_list(
    *,
    as_of: datetime.date | None = None,
    user: str | None = None,
    level: str | None = None,
    min_risk: int | None = None,
    course: str | None = None,
    never_started: bool | None = None,
) -> QuerySet[EngagementScore]:
    """Return the enrolment scores of the current run (of ``as_of`` if given), riskiest first.

    ``user`` and ``course`` are external ids; ``course`` keeps that course's enrolments (a
    learner's scores in other courses are not its business). ``never_started`` keeps only
    never-started enrolments (True) or only started ones (False). Empty when no run is done.
    The heavy ``signals`` column is deferred; learner and course come in the same query.
    """
    run = scoring_run_current(as_of=as_of)
    if run is None:
        return EngagementScore.objects.none()
    scores = (
        EngagementScore.objects.filter(run=run).select_related("user", "course").defer("signals")
    )
    if user:
        scores = scores.filter(user__external_id=user)
    if level:
        scores = scores.filter(level=level)
    if min_risk is not None:
        scores = scores.filter(drop_off_risk__gte=min_risk)
    if never_started is not None:
        scores = scores.filter(never_started=never_started)
    scores = course_scores(scores, course)
    return scores.order_by("-drop_off_risk", "user_id", "course_id")


def run_recommendations(
    *, run_id: int
) -> list[tuple[int, int | None, str, int, list[str], set[str]]]:
    """Every enrolment score of a run that recommends something, as (user id, course id,
    level, drop-off risk, recommended intervention codes, the signals that raise its risk),
    riskiest first (one query)."""
    rows = (
        EngagementScore.objects.filter(run_id=run_id)
        .exclude(recommendations=[])
        .order_by("-drop_off_risk", "user_id", "course_id")
        .values_list("user_id", "course_id", "level", "drop_off_risk", "recommendations", "drivers")
    )
    return [
        (user_id, course_id, level, risk, [r["code"] for r in recs], _raising(drivers))
        for user_id, course_id, level, risk, recs, drivers in rows
    ]


def _raising(drivers: list[dict[str, Any]] | None) -> set[str]:
    return {d["signal"] for d in drivers or () if (d.get("contribution") or 0) > 0}


def current_scores_of(*, user_ids: list[int]) -> dict[int, list[EngagementScore]]:
    """The learners' enrolment scores in the current run, riskiest first, with their course
    (one query after the run's; signals deferred)."""
    run = scoring_run_current()
    out: dict[int, list[EngagementScore]] = {}
    if run is None or not user_ids:
        return out
    for score in (
        EngagementScore.objects.filter(run=run, user_id__in=user_ids)
        .select_related("course")
        .defer("signals")
        .order_by("user_id", "-drop_off_risk", "course_id")
    ):
        out.setdefault(score.user_id, []).append(score)
    return out
