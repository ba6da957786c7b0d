"""Reads behind the staff at-risk dashboard, the learner page and the at-risk API.

"Current" scores are those of the current scoring run (``scoring_run_current``: the done run
with the latest as_of); every number on the dashboard describes that one snapshot. Each
selector costs a fixed number of queries whatever the number of learners: the stats are one
aggregate, the histogram one GROUP BY, the list an ORDER BY drop_off_risk DESC LIMIT served by
the `score_run_risk` index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Avg, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Least

from accounts.models import User
from engagement.models import (
    Alert,
    EngagementScore,
    PersonalizationProfile,
    ScoringRun,
)
from engagement.scoring.signals import SIGNALS, Signal
from learning.models import Course, Enrollment

Level = EngagementScore.Level
LEVELS: tuple[str, ...] = tuple(Level.values)  # low -> critical
# "At risk" by default: the lower bound of the high level (risk_level), used by the dashboard's
# slider and the at-risk API alike.
AT_RISK_DEFAULT_THRESHOLD = 60
HISTOGRAM_BUCKET = 10  # risk points per histogram bar
TREND_RUNS = 30  # how many finished runs the trend chart covers
HISTORY_LIMIT = 180  # score history points on the learner page (about half a year of nights)
# A finished run's scores never change, so its summary can be kept for as long as it exists.
_RUN_SUMMARY_CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class AtRiskStats:
    """Headline numbers of one run: who was scored, how many per level, who is at risk."""

    total: int = 0
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    at_risk: int = 0
    average_risk: float | None = None
    threshold: int = 60

    @property
    def at_risk_share(self) -> float:
        """Share (0-1) of scored learners whose risk is at or above the threshold."""
        return self.at_risk / self.total if self.total else 0.0

    @property
    def at_risk_percent(self) -> float:
        return round(100 * self.at_risk_share, 1)


@dataclass(frozen=True)
class HistogramBucket:
    """Learners whose risk falls in [low, high]."""

    low: int
    high: int
    count: int


@dataclass(frozen=True)
class RunSummary:
    """One finished run as a point of the trend chart."""

    run_id: int
    as_of: date
    finished_at: datetime | None
    total: int
    average_risk: float | None
    by_level: dict[str, int]


@dataclass(frozen=True)
class SignalRow:
    """One signal of a learner with its catalogue entry."""

    name: str
    description: str
    unit: str
    window_days: int | None
    value: Any


@dataclass
class SignalGroup:
    """Signals that belong together on the learner page."""

    title: str
    signals: list[SignalRow] = field(default_factory=list)


@dataclass(frozen=True)
class LearnerDetail:
    """Everything the learner page shows about one learner."""

    user: User
    score: EngagementScore | None
    history: list[EngagementScore]
    signal_groups: list[SignalGroup]
    open_alerts: list[Alert]
    profile: PersonalizationProfile | None


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


def _run_scores(
    *, run: ScoringRun, course: Course | str | None = None
) -> QuerySet[EngagementScore]:
    """The run's scores, narrowed to learners enrolled in `course` (object or external id)."""
    scores = EngagementScore.objects.filter(run=run)
    if course:
        # EXISTS rather than a join: a learner is listed once however they are enrolled.
        enrolled = Enrollment.objects.filter(user_id=OuterRef("user_id"))
        if isinstance(course, Course):
            enrolled = enrolled.filter(course=course)
        else:
            enrolled = enrolled.filter(course__external_id=course)
        scores = scores.filter(Exists(enrolled))
    return scores


def at_risk_stats(
    *, run: ScoringRun | None, threshold: int, course: Course | str | None = None
) -> AtRiskStats:
    """Counts per level and at/above `threshold` for the run, in one aggregate query."""
    if run is None:
        return AtRiskStats(threshold=threshold)
    # Counting drop_off_risk (never null) rather than id: every column read then sits in
    # `score_run_level_risk`, so PostgreSQL answers from that small index, not the wide rows.
    row = _run_scores(run=run, course=course).aggregate(
        total=Count("drop_off_risk"),
        average_risk=Avg("drop_off_risk"),
        at_risk=Count("drop_off_risk", filter=Q(drop_off_risk__gte=threshold)),
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
    )


def at_risk_list(
    *,
    run: ScoringRun | None,
    threshold: int,
    level: str | None = None,
    course: Course | str | None = None,
) -> QuerySet[EngagementScore]:
    """Scores at or above `threshold` with their learner, riskiest first.

    The signals blob (dozens of numbers per learner) is deferred: lists never show it.
    """
    if run is None:
        return EngagementScore.objects.none()
    scores = _run_scores(run=run, course=course).filter(drop_off_risk__gte=threshold)
    if level:
        scores = scores.filter(level=level)
    return (
        scores.select_related("user")
        .defer("signals")
        # -drop_off_risk walks the (run, -drop_off_risk) index; id keeps pages stable on ties.
        .order_by("-drop_off_risk", "id")
    )


def risk_histogram(*, run: ScoringRun | None) -> list[HistogramBucket]:
    """Learners per 10-point risk band (0-9, ..., 90-100) of the run, in one GROUP BY."""
    counts = [0] * (100 // HISTOGRAM_BUCKET)
    if run is not None:
        rows = (
            EngagementScore.objects.filter(run=run)
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


def _run_summary_key(run_id: int, finished_at: datetime | None) -> str:
    stamp = finished_at.isoformat() if finished_at else "-"
    return f"engagement:run-summary:{run_id}:{stamp}"


def scoring_run_trend(*, limit: int = TREND_RUNS) -> list[RunSummary]:
    """Average risk and learners per level of the last `limit` finished runs, oldest first.

    One query lists the runs; one GROUP BY summarises those not yet in the cache. A finished
    run never changes, so each summary is computed once, not on every page view.
    """
    # The same order as scoring_run_current, so the trend ends on the current run.
    runs = list(_done_runs_newest_first().values("id", "as_of", "finished_at")[:limit])
    if not runs:
        return []
    keys = {run["id"]: _run_summary_key(run["id"], run["finished_at"]) for run in runs}
    cached: dict[str, dict[str, Any]] = cache.get_many(list(keys.values()))
    missing = [run_id for run_id, key in keys.items() if key not in cached]
    if missing:
        rows = (
            EngagementScore.objects.filter(run_id__in=missing)
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


# Signal groups for the learner page, matched in order on the signal's name; first match wins.
_SIGNAL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Cohort comparison", ("cohort_",)),
    (
        "Recency and gaps",
        ("recency", "gap_days", "streak", "days_since_first", "first_week"),
    ),
    ("Trend", ("trend", "decline", "decayed_")),
    ("Sessions", ("session",)),
    ("Lessons and progress", ("lesson", "progress")),
    ("Quizzes and assignments", ("quiz", "assignment")),
    ("Video and live sessions", ("video", "live_")),
    ("Study rhythm", ("entropy", "weekday", "weekend", "hour", "density", "per_active_day")),
    ("Course and enrolment", ("course", "enrolment", "self_paced", "withdrawn", "purchase")),
    ("Activity volume", ("active_", "events", "page_views", "social", "downloads", "custom")),
)
_OTHER_GROUP = "Other"


def signal_group_title(name: str) -> str:
    """The learner-page group a signal belongs to, from its name."""
    for title, needles in _SIGNAL_GROUPS:
        if any(needle in name for needle in needles):
            return title
    return _OTHER_GROUP


def signal_groups(
    values: dict[str, Any], catalogue: tuple[Signal, ...] | list[Signal] = SIGNALS
) -> list[SignalGroup]:
    """A learner's signal values joined to the catalogue and grouped; catalogue order kept.

    Values the catalogue does not know (an older model's signals) are shown under "Other".
    """
    order = [title for title, _ in _SIGNAL_GROUPS] + [_OTHER_GROUP]
    groups = {title: SignalGroup(title=title) for title in order}
    known = set()
    for sig in catalogue:
        if sig.name not in values:
            continue
        known.add(sig.name)
        groups[signal_group_title(sig.name)].signals.append(
            SignalRow(sig.name, sig.description, sig.unit, sig.window_days, values[sig.name])
        )
    for name in sorted(set(values) - known):
        groups[_OTHER_GROUP].signals.append(SignalRow(name, "", "", None, values[name]))
    return [groups[title] for title in order if groups[title].signals]


def learner_user_get(*, user_id: int) -> User | None:
    """The learner with this primary key, or None."""
    return User.objects.filter(pk=user_id).first()


def learner_detail(*, user: User) -> LearnerDetail:
    """The learner page's data in four queries: latest score, history, open alerts, profile.

    Only scores of finished (done) runs count; the history carries just the charted numbers.
    """
    done = EngagementScore.objects.filter(user=user, run__status=ScoringRun.Status.DONE)
    newest_first = ("-as_of", "-run__finished_at", "-id")
    score = done.order_by(*newest_first).first()
    history = list(
        done.order_by(*newest_first).only(
            "id", "as_of", "drop_off_risk", "weekly_risk", "monthly_risk", "level"
        )[:HISTORY_LIMIT]
    )
    history.reverse()
    open_alerts = list(
        Alert.objects.filter(
            user=user, status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]
        ).select_related("rule", "course")
    )
    profile = PersonalizationProfile.objects.filter(user=user).first()
    return LearnerDetail(
        user=user,
        score=score,
        history=history,
        signal_groups=signal_groups(score.signals or {}) if score else [],
        open_alerts=open_alerts,
        profile=profile,
    )
