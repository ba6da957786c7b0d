"""Reads behind the staff at-risk dashboard and the at-risk API.

"Current" scores are those of the current scoring run (``scoring_run_current``: the done run
with the latest as_of); every number on the dashboard describes that one snapshot. A score is
one enrolment (learner x course); the course filter keeps that course's rows, in every
selector here (stats, list, histogram, trend). Each selector costs a fixed number of queries
whatever the number of learners: the stats are one aggregate, the histogram one GROUP BY, the
list an ORDER BY drop_off_risk DESC LIMIT served by the `score_run_risk` index (with a course,
`score_run_course_risk`). The learner page's reads are in ``engagement.selectors.learners``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Least

from engagement.models import EngagementScore, ScoringRun
from learning.models import Course

Level = EngagementScore.Level
LEVELS: tuple[str, ...] = tuple(Level.values)  # low -> critical
# "At risk" by default: the lower bound of the high level (risk_level), used by the dashboard's
# slider and the at-risk API alike.
AT_RISK_DEFAULT_THRESHOLD = 60
HISTOGRAM_BUCKET = 10  # risk points per histogram bar
TREND_RUNS = 30  # how many finished runs the trend chart covers
# "Started" filter of the list: only enrolments with no activity yet, or only those with some.
STARTED_CHOICES: tuple[tuple[str, str], ...] = (
    ("never", "Never started"),
    ("started", "Started"),
)
# A finished run's scores never change, so its summary can be kept for as long as it exists.
_RUN_SUMMARY_CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class AtRiskStats:
    """Headline numbers of one run: enrolments scored, per level, at risk; and their learners.

    ``total`` .. ``at_risk`` count enrolments (scores). ``learners`` is how many learners they
    belong to and ``at_risk_learners`` how many of those have a learner-level risk (see
    ``engagement.selectors.learners.learner_risks``: the highest over their enrolments) at or
    above the threshold.
    """

    total: int = 0
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    at_risk: int = 0
    average_risk: float | None = None
    threshold: int = 60
    learners: int = 0
    at_risk_learners: int = 0
    never_started: int = 0

    @property
    def at_risk_share(self) -> float:
        """Share (0-1) of scored enrolments whose risk is at or above the threshold."""
        return self.at_risk / self.total if self.total else 0.0

    @property
    def at_risk_percent(self) -> float:
        return round(100 * self.at_risk_share, 1)


@dataclass(frozen=True)
class HistogramBucket:
    """Enrolments whose risk falls in [low, high]."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class RunSummary:
    """One finished run as a point of the trend chart (enrolments, in the course if one)."""

    run_id: int
    as_of: date
    finished_at: datetime | None
    total: int
    average_risk: float | None
    by_level: dict[str, int]


def _done_runs_newest_first() -> QuerySet[ScoringRun]:
    """Done runs, the current one first: latest as_of, then (a date scored twice) last finished.

    A run scoring a past date (a backfill) finishes after tonight's but does not replace it.
    """
    return ScoringRun.objects.filter(status=ScoringRun.Status.DONE).order_by(
        "-as_of", F("finished_at").desc(nulls_last=True), "-id"
    )


def scoring_run_current(
    *, as_of: date | None = None, on_or_before: date | None = None
) -> ScoringRun | None:
    """The current scoring run: the done run with the latest as_of, or None if there is none.

    The one definition of "current" for the dashboard, the at-risk and scores APIs, the export,
    the alert rules and the demo. Of two done runs for one date the later finished counts.
    ``as_of`` keeps only runs of that date; ``on_or_before`` only runs as of that date or
    earlier (the run that was current then). One query.
    """
    runs = _done_runs_newest_first()
    if as_of is not None:
        runs = runs.filter(as_of=as_of)
    if on_or_before is not None:
        runs = runs.filter(as_of__lte=on_or_before)
    return runs.first()


def scoring_run_in_progress() -> ScoringRun | None:
    """The newest pending or running run (for the progress bar), or None."""
    return (
        ScoringRun.objects.filter(status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING])
        .order_by("-created_at", "-id")
        .first()
    )


def scoring_run_get(*, run_id: int) -> ScoringRun | None:
    """One run by id, or None."""
    return ScoringRun.objects.filter(pk=run_id).first()


def course_choices() -> list[tuple[str, str]]:
    """(external id, title) of every course, for the dashboard's course filter."""
    return list(Course.objects.order_by("title", "id").values_list("external_id", "title"))


def course_by_external_id(*, external_id: str) -> Course | None:
    """The course with this external id, or None."""
    return Course.objects.filter(external_id=external_id).first()


def course_scores(
    scores: QuerySet[EngagementScore], course: Course | str | None
) -> QuerySet[EngagementScore]:
    """`scores` narrowed to the enrolments of `course` (object or external id; None = all)."""
    if not course:
        return scores
    if isinstance(course, Course):
        return scores.filter(course=course)
    return scores.filter(course__external_id=course)


def _run_scores(
    *, run: ScoringRun, course: Course | str | None = None
) -> QuerySet[EngagementScore]:
    """The run's scores, narrowed to the enrolments of `course` (object or external id)."""
    return course_scores(EngagementScore.objects.filter(run=run), course)


def at_risk_stats(
    *, run: ScoringRun | None, threshold: int, course: Course | str | None = None
) -> AtRiskStats:
    """Counts per level and at/above `threshold` for the run (in `course`), in one aggregate.

    A learner counts as at risk when their learner-level risk (the highest of their
    enrolments', ``learner_risks``) reaches the threshold, that is when any of their
    enrolments (in the course, with one) does: counted as distinct learners of those rows.
    """
    if run is None:
        return AtRiskStats(threshold=threshold)
    at_risk = Q(drop_off_risk__gte=threshold)
    row = _run_scores(run=run, course=course).aggregate(
        total=Count("drop_off_risk"),
        average_risk=Avg("drop_off_risk"),
        at_risk=Count("drop_off_risk", filter=at_risk),
        learners=Count("user_id", distinct=True),
        at_risk_learners=Count("user_id", distinct=True, filter=at_risk),
        never_started=Count("drop_off_risk", filter=Q(never_started=True)),
        **{level: Count("drop_off_risk", filter=Q(level=level)) for level in LEVELS},
    )
    average = row["average_risk"]
    return AtRiskStats(
        total=row["total"],
        critical=row[Level.CRITICAL],
        high=row[Level.HIGH],
        medium=row[Level.MEDIUM],
        low=row[Level.LOW],
        at_risk=row["at_risk"],
        average_risk=round(float(average), 1) if average is not None else None,
        threshold=threshold,
        learners=row["learners"],
        at_risk_learners=row["at_risk_learners"],
        never_started=row["never_started"],
    )


def at_risk_list(
    *,
    run: ScoringRun | None,
    threshold: int,
    level: str | None = None,
    course: Course | str | None = None,
    started: str | None = None,
) -> QuerySet[EngagementScore]:
    """Enrolment scores at or above `threshold` with their learner and course, riskiest first.

    `course` keeps that course's enrolments; `started` is "never" (only never-started
    enrolments) or "started" (only those with activity). The signals blob (dozens of numbers
    per row) is deferred: lists never show it.
    """
    if run is None:
        return EngagementScore.objects.none()
    scores = _run_scores(run=run, course=course).filter(drop_off_risk__gte=threshold)
    if level:
        scores = scores.filter(level=level)
    if started:
        scores = scores.filter(never_started=started == "never")
    return (
        scores.select_related("user", "course")
        .defer("signals")
        # -drop_off_risk walks the (run, -drop_off_risk) index; id keeps pages stable on ties.
        .order_by("-drop_off_risk", "id")
    )


def risk_histogram(
    *, run: ScoringRun | None, course: Course | str | None = None
) -> list[HistogramBucket]:
    """Enrolments per 10-point risk band (0-9, ..., 90-100) of the run (in `course`), in one
    GROUP BY."""
    counts = [0] * (100 // HISTOGRAM_BUCKET)
    if run is not None:
        rows = (
            _run_scores(run=run, course=course)
            # Integer division on an integer column; 100 joins the top band.
            .annotate(
                band=Least("drop_off_risk", Value(99), output_field=IntegerField())
                / Value(HISTOGRAM_BUCKET)
            )
            .values("band")
            .annotate(n=Count("drop_off_risk"))
            .order_by()
            .values_list("band", "n")
        )
        for band, n in rows:
            counts[int(band)] += n
    return [
        HistogramBucket(
            low=i * HISTOGRAM_BUCKET,
            high=100 if i == len(counts) - 1 else (i + 1) * HISTOGRAM_BUCKET - 1,
            count=n,
        )
        for i, n in enumerate(counts)
    ]


def _run_summary_key(run_id: int, finished_at: datetime | None, course: str) -> str:
    stamp = finished_at.isoformat() if finished_at else "-"
    return f"engagement:run-summary:{run_id}:{stamp}:{course}"


def scoring_run_trend(
    *, limit: int = TREND_RUNS, course: Course | str | None = None
) -> list[RunSummary]:
    """Average risk and enrolments per level of the last `limit` finished runs, oldest first.

    With `course`, only that course's enrolments count. One query lists the runs; one GROUP BY
    summarises those not yet in the cache. A finished run never changes, so each summary is
    computed once (per course), not on every page view.
    """
    # The same order as scoring_run_current, so the trend ends on the current run.
    runs = list(_done_runs_newest_first().values("id", "as_of", "finished_at")[:limit])
    if not runs:
        return []
    course_key = course.external_id if isinstance(course, Course) else (course or "")
    keys = {run["id"]: _run_summary_key(run["id"], run["finished_at"], course_key) for run in runs}
    cached: dict[str, dict[str, Any]] = cache.get_many(list(keys.values()))
    missing = [run_id for run_id, key in keys.items() if key not in cached]
    if missing:
        rows = (
            course_scores(EngagementScore.objects.filter(run_id__in=missing), course)
            .values("run_id")
            .annotate(
                total=Count("drop_off_risk"),
                average_risk=Avg("drop_off_risk"),
                **{level: Count("drop_off_risk", filter=Q(level=level)) for level in LEVELS},
            )
            .order_by()
        )
        fresh = {
            row["run_id"]: {
                "total": row["total"],
                "average_risk": (
                    round(float(row["average_risk"]), 1)
                    if row["average_risk"] is not None
                    else None
                ),
                "by_level": {level: row[level] for level in LEVELS},
            }
            for row in rows
        }
        empty = {"total": 0, "average_risk": None, "by_level": dict.fromkeys(LEVELS, 0)}
        to_cache = {keys[run_id]: fresh.get(run_id, empty) for run_id in missing}
        cache.set_many(to_cache, timeout=_RUN_SUMMARY_CACHE_SECONDS)
        cached.update(to_cache)
    return [
        RunSummary(
            run_id=run["id"],
            as_of=run["as_of"],
            finished_at=run["finished_at"],
            **cached[keys[run["id"]]],
        )
        for run in reversed(runs)
    ]
