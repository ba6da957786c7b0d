"""Rule candidates from stored scores: critical risk now, and risk rising between two runs."""

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
    """Learners whose score in the current scoring run has one of `levels`."""
    run = scoring_run_current()
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
    latest = scoring_run_current()
    if latest is None:
        return []
    earlier = scoring_run_current(
        on_or_before=latest.as_of - datetime.timedelta(days=int(params["min_days_between"]))
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
