"""Reads of the stored star-performer snapshots (see analytics.services.performers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, Max, Min, Window
from django.db.models.functions import RowNumber

from analytics.models import (
    PerformerFactor,
    PerformerMember,
    PerformerRun,
    PerformerScope,
    PerformerSegment,
)
from analytics.performer_advice import factor_sentence, recommendation, signal_label
from analytics.services.significance import effect_size
from learning.models import Course


@dataclass(frozen=True)
class Factor:
    """A presented factor: the stored statistics and the words for them."""

    signal: str
    label: str
    sentence: str
    recommendation: str
    star_mean: float
    lagging_mean: float
    cohen_d: float
    d_low: float
    d_high: float
    p_value: float
    p_value_holm: float
    n_star: int
    n_lagging: int
    effect_size: str


@dataclass(frozen=True)
class Segment:
    name: str
    learners: list[str] = field(default_factory=list)  # external ids, best first
    min_score: float | None = None
    max_score: float | None = None
    count: int = 0  # the segment's size (learners may list only the first of them)


@dataclass(frozen=True)
class PerformerSnapshot:
    """One scope's stored analysis: its run, its segments and its presented factors."""

    run: PerformerRun
    segments: dict[str, Segment]
    factors: list[Factor]


def _factor(f: PerformerFactor) -> Factor:
    return Factor(
        signal=f.signal,
        label=signal_label(f.signal),
        sentence=factor_sentence(f.signal, f.star_mean, f.lagging_mean),
        recommendation=recommendation(f.signal),
        star_mean=f.star_mean,
        lagging_mean=f.lagging_mean,
        cohen_d=f.cohen_d,
        d_low=f.d_low,
        d_high=f.d_high,
        p_value=f.p_value,
        p_value_holm=f.p_value_holm,
        n_star=f.n_star,
        n_lagging=f.n_lagging,
        effect_size=effect_size(f.cohen_d),
    )


def performer_run(*, course: Course | None = None, scope: str | None = None) -> PerformerRun | None:
    """The stored run of `course` (None: all learners; `scope` "instructors" for instructors),
    or None when it has not been computed yet. One query."""
    if course is not None:
        return PerformerRun.objects.filter(scope=PerformerScope.COURSE, course=course).first()
    return PerformerRun.objects.filter(
        scope=scope or PerformerScope.OVERALL, course__isnull=True
    ).first()


def performer_factors(*, run: PerformerRun) -> list[Factor]:
    """The run's presented factors (Holm p < 0.05, |d| >= 0.2), largest |d| first. One query."""
    rows = list(PerformerFactor.objects.filter(run=run, significant=True))
    rows.sort(key=lambda f: (-abs(f.cohen_d), f.signal))
    return [_factor(f) for f in rows]


def factor_highlights(
    factors: list[Factor], *, limit: int = 6
) -> tuple[list[Factor], list[Factor]]:
    """The factors to spell out (the strongest of each recommendation, at most `limit`, in
    the given order) and the rest: many signals measure the same behaviour (active days over
    3, 7, 14 days...), and one recommendation said once is enough. No query."""
    shown: list[Factor] = []
    seen: set[str] = set()
    for f in factors:
        if f.recommendation not in seen and len(shown) < limit:
            shown.append(f)
            seen.add(f.recommendation)
    rest = [f for f in factors if f not in shown]
    return shown, rest


def performers_snapshot(
    *, course: Course | None = None, limit: int | None = None
) -> PerformerSnapshot | None:
    """The segments (their size and score range, and their members' external ids, best first:
    every one, or the first `limit` of each) and presented factors of `course` or of all
    learners; None before the first computation. Four queries."""
    run = performer_run(course=course)
    if run is None:
        return None
    members = PerformerMember.objects.filter(run=run)
    segments = {s: Segment(s) for s in PerformerSegment.values}
    for name, count, low, high in (
        members.values("segment")
        .annotate(n=Count("pk"), low=Min("score"), high=Max("score"))
        .values_list("segment", "n", "low", "high")
        .order_by()
    ):
        segments[name] = Segment(name, [], low, high, count)
    listed = members.order_by("segment", "rank")
    if limit:  # the first `limit` of each segment, in the same query
        listed = listed.annotate(
            place=Window(RowNumber(), partition_by=F("segment"), order_by=F("rank").asc())
        ).filter(place__lte=limit)
    for name, external_id in listed.values_list("segment", "user__external_id"):
        segments[name].learners.append(external_id)
    return PerformerSnapshot(run=run, segments=segments, factors=performer_factors(run=run))


def performer_scores(*, run: PerformerRun) -> list[tuple[float, str]]:
    """Every member's (score, segment), for the distribution chart. One query."""
    return list(PerformerMember.objects.filter(run=run).values_list("score", "segment"))


def performer_members(
    *, run: PerformerRun, segment: str | None = None, limit: int | None = None
) -> list[PerformerMember]:
    """The run's members (of one segment), best first, with their users. One query."""
    rows = PerformerMember.objects.filter(run=run).select_related("user").order_by("rank")
    if segment is not None:
        rows = rows.filter(segment=segment)
    return list(rows[:limit] if limit else rows)
