"""Rule candidates from stored scores: critical risk now, and risk rising between two runs.

Both are per enrolment: a score is one learner in one course, and so is the alert (its course
set; empty only for a score from before scores per enrolment).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db.models import F, OuterRef, Subquery

from engagement.models import EngagementScore
from engagement.selectors.alerts.candidate import AlertCandidate
from engagement.selectors.dashboard import scoring_run_current


def critical_risk_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolments whose score in the current scoring run has one of `levels`."""
    run = scoring_run_current()
    if run is None:
        return []
    scores = EngagementScore.objects.filter(run=run, level__in=params["levels"]).values_list(
        "user_id",
        "course_id",
        "drop_off_risk",
        "level",
        "as_of",
        "drivers",
        "never_started",
    )
    return [
        AlertCandidate(
            user_id=user_id,
            course_id=course_id,
            message=(
                f"Drop-off risk {risk}/100 ({level}) as of {as_of:%Y-%m-%d}"
                + (" (never started)" if never else "")
            ),
            context={
                "drop_off_risk": risk,
                "level": level,
                "as_of": as_of.isoformat(),
                "run_id": run.pk,
                "drivers": list(drivers or [])[:3],
                "never_started": never,
            },
        )
        for user_id, course_id, risk, level, as_of, drivers, never in scores.iterator()
    ]


def risk_rising_candidates(
    now: datetime.datetime, params: Mapping[str, Any]
) -> list[AlertCandidate]:
    """Enrolments whose risk rose by `min_increase`+ since a run `min_days_between`+ days older.

    The same enrolment (learner and course) is compared in both runs.
    """
    latest = scoring_run_current()
    if latest is None:
        return []
    earlier = scoring_run_current(
        on_or_before=latest.as_of - datetime.timedelta(days=int(params["min_days_between"]))
    )
    if earlier is None:
        return []
    previous = EngagementScore.objects.filter(
        run=earlier, user_id=OuterRef("user_id"), course_id=OuterRef("course_id")
    )
    scores = (
        EngagementScore.objects.filter(run=latest, course__isnull=False)
        .annotate(previous=Subquery(previous.values("drop_off_risk")[:1]))
        .filter(drop_off_risk__gte=F("previous") + int(params["min_increase"]))
        .values_list("user_id", "course_id", "drop_off_risk", "previous")
    )
    days = (latest.as_of - earlier.as_of).days
    return [
        AlertCandidate(
            user_id=user_id,
            course_id=course_id,
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
        for user_id, course_id, risk, before in scores.iterator()
    ]
