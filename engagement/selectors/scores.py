"""Reads of stored engagement scores: the current run's snapshot, filtered."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from engagement.models import EngagementScore
from engagement.selectors.dashboard import scoring_run_current
from learning.models import Enrollment


def score_list(
    *,
    as_of: datetime.date | None = None,
    user: str | None = None,
    level: str | None = None,
    min_risk: int | None = None,
    course: str | None = None,
) -> QuerySet[EngagementScore]:
    """Return the scores of the current run (of ``as_of`` if given), riskiest first.

    ``user`` and ``course`` are external ids; ``course`` keeps learners enrolled in it. Empty
    when no run is done. The heavy ``signals`` column is deferred.
    """
    run = scoring_run_current(as_of=as_of)
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
