"""The at-risk share of a range of days, from engagement's scoring runs.

A day's figures come from its latest completed run (status done, as of that day, the last to
finish): how many learners it scored and how many of them it rated high or critical, for the
platform, each course and each instructor (their courses together). Scores are per enrolment,
so a learner counts once per scope: at risk when any of their scores in it is high or
critical. A day with no completed run has no figures (zero scored).
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import Count, F, Q

from engagement.models import EngagementScore, ScoringRun

AT_RISK_LEVELS = (EngagementScore.Level.HIGH, EngagementScore.Level.CRITICAL)

AtRiskScope = tuple[datetime.date, int | None, int | None]
"""(day, course id, instructor id), as daily_metrics' Scope."""


def latest_runs(start: datetime.date, end: datetime.date) -> dict[int, datetime.date]:
    """{run id: its day} of each day's latest completed run, days start..end, in one query."""
    latest: dict[datetime.date, int] = {}
    for run_id, as_of in (
        ScoringRun.objects.filter(status=ScoringRun.Status.DONE, as_of__gte=start, as_of__lte=end)
        .order_by("as_of", F("finished_at").asc(nulls_first=True), "pk")
        .values_list("pk", "as_of")
    ):
        latest[as_of] = run_id  # the last of the day's, in finishing order
    return {run_id: day for day, run_id in latest.items()}


def daily_at_risk(start: datetime.date, end: datetime.date) -> dict[AtRiskScope, tuple[int, int]]:
    """{(day, course, instructor): (learners scored, of them high or critical)} of days
    start..end, in four queries (the runs, then one per kind of scope)."""
    runs = latest_runs(start, end)
    if not runs:
        return {}
    scores = EngagementScore.objects.filter(run_id__in=list(runs)).order_by()
    counts = {
        "scored": Count("user", distinct=True),
        "at_risk": Count("user", distinct=True, filter=Q(level__in=AT_RISK_LEVELS)),
    }
    out: dict[AtRiskScope, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for row in scores.values("run_id").annotate(**counts):
        out[runs[row["run_id"]], None, None] = (row["scored"], row["at_risk"])
    for row in scores.filter(course__isnull=False).values("run_id", "course_id").annotate(**counts):
        out[runs[row["run_id"]], row["course_id"], None] = (row["scored"], row["at_risk"])
    for row in (
        scores.filter(course__instructor__isnull=False)
        .values("run_id", "course__instructor_id")
        .annotate(**counts)
    ):
        key = (runs[row["run_id"]], None, row["course__instructor_id"])
        out[key] = (row["scored"], row["at_risk"])
    return dict(out)


def finished_run_days(since: datetime.datetime, until: datetime.datetime) -> set[datetime.date]:
    """The days of the runs completed in (since, until]: their at-risk figures changed."""
    return set(
        ScoringRun.objects.filter(
            status=ScoringRun.Status.DONE, finished_at__gt=since, finished_at__lte=until
        )
        .order_by()
        .values_list("as_of", flat=True)
        .distinct()
    )


__all__ = ["AT_RISK_LEVELS", "daily_at_risk", "finished_run_days", "latest_runs"]
