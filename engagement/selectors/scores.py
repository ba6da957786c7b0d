"""Reads of stored engagement scores: the latest finished run's snapshot, filtered."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from engagement.models import EngagementScore, ScoringRun
from learning.models import Enrollment


def scoring_run_latest_done(*, as_of: datetime.date | None = None) -> ScoringRun | None:
    """Return the most recently finished done run (with that ``as_of`` if given), or None."""
    runs = ScoringRun.objects.filter(status=ScoringRun.Status.DONE)
    if as_of is not None:
        runs = runs.filter(as_of=as_of)
    return runs.order_by("-finished_at", "-pk").first()


def score_list(
    *,
    as_of: datetime.date | None = None,
    user: str | None = None,
    level: str | None = None,
    min_risk: int | None = None,
    course: str | None = None,
) -> QuerySet[EngagementScore]:
    """Return the scores of the latest done run (for ``as_of`` if given), riskiest first.

    ``user`` and ``course`` are external ids; ``course`` keeps learners enrolled in it. Empty
    when no run is done. The heavy ``signals`` column is deferred.
    """
    run = scoring_run_latest_done(as_of=as_of)
    if run is None:
        return EngagementScore.objects.none()
    scores = EngagementScore.objects.filter(run=run).select_related("user").defer("signals")
    if user:
        scores = scores.filter(user__external_id=user)
    if level:
        scores = scores.filter(level=level)
    if min_risk is not None:
        scores = scores.filter(drop_off_risk__gte=min_risk)
    if course:
        enrolled = Enrollment.objects.filter(course__external_id=course).values("user_id")
        scores = scores.filter(user_id__in=enrolled)
    return scores.order_by("-drop_off_risk", "user_id")
