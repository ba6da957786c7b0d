"""Star performers: score every enrollment in progress, segment each course, all learners and
all instructors into star (top 10 %), average and lagging (bottom 10 %), find the signals that
tell stars from laggards, and store the result, one snapshot per scope.

How the numbers are defined is in ``analytics.performance`` (the score, its five components and
weights, the segments) and ``analytics.services.significance`` (the statistics). Here:

* the population is every enrollment in progress as of the day (begun, neither completed nor
  withdrawn: the rows the drop-off risk model scores), with the engagement signals computed
  from the learners' activity exactly as the risk model computes them
  (``engagement.selectors.activity.learner_activity`` + ``compute_signals``);
* **per course**: that course's enrollments (one learner each);
* **overall**: every learner once; their score is the mean of their enrollments' scores (each
  enrollment counts equally) and each signal the mean over their enrollments;
* **instructors**: an instructor's score is the mean score of every enrollment in their
  courses; alongside it the share of those enrollments that are stars and that are lagging in
  their course. Instructors are segmented among themselves (10 % each way, at least one when
  there are three or more); no factors (a handful of instructors is no sample).

A rerun replaces a scope's members and factors in one transaction under a lock on its run row
(unique per scope), so retries and concurrent runs never duplicate.
"""

from __future__ import annotations

import datetime
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from analytics import performance
from analytics.models import (
    PerformerFactor,
    PerformerMember,
    PerformerRun,
    PerformerScope,
)
from analytics.services.significance import Comparison, compare_groups
from engagement.scoring.signals import SIGNAL_NAMES, SIGNALS, compute_signals
from engagement.selectors.activity import learner_activity
from learning.models import Course

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# A difference resting on fewer learners than this on a side is compared and stored but not
# presented: two or three laggards who all missed one live session are not a pattern.
MIN_FACTOR_GROUP = 5
D_CAP = 10.0  # two constant, different groups give an infinite d: stored as +/-10
BATCH = 5000
# The signals that use the catalogue's MISSING sentinel (-1) for "undefined" (those with a
# sentence for it).
SENTINEL_SIGNALS = frozenset(s.name for s in SIGNALS if s.missing)


@dataclass(frozen=True)
class PerformersComputed:
    """What `performers_compute` stored."""

    as_of: datetime.date
    runs: int
    members: int
    factors: int  # signals compared
    significant: int  # of those, presented (Holm p < 0.05, |d| >= 0.2, 5+ a side)


@dataclass(frozen=True)
class _Scored:
    """One population ready to store: ids, scores, components and signal columns."""

    user_ids: np.ndarray
    scores: np.ndarray
    parts: Mapping[str, np.ndarray]
    enrollments: np.ndarray
    columns: Mapping[str, np.ndarray] | None  # None: no factors for this scope


def _capped(value: float) -> float:
    return math.copysign(D_CAP, value) if abs(value) > D_CAP else value


def _part(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 4)


def _store(
    *,
    scope: str,
    course_id: int | None,
    as_of: datetime.date,
    scored: _Scored,
    minimum: int,
) -> tuple[int, list[Comparison], performance.Segmentation]:
    """Segment `scored`, compare its stars and laggards, and replace the scope's snapshot;
    return (members stored, comparisons, segmentation)."""
    seg = performance.segment(scored.scores, scored.user_ids, minimum=minimum)
    comparisons: list[Comparison] = []
    if scored.columns is not None and seg.star_count:
        star, lagging = performance.factor_groups(
            scored.columns, seg.segments, sentinel=SENTINEL_SIGNALS
        )
        with warnings.catch_warnings():
            # scipy warns of lost precision when a group's values are (nearly) all equal; the
            # t-test's answer for them is still the right one to store, and the nightly log
            # should not fill with it.
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            comparisons = compare_groups(star, lagging)
    names = list(scored.parts)
    members = [
        PerformerMember(
            user_id=int(uid),
            segment=segment,
            rank=int(rank),
            score=round(float(score), 2),
            components={c: _part(float(scored.parts[c][i])) for c in names},
            enrollments=int(scored.enrollments[i]),
        )
        for i, (uid, segment, rank, score) in enumerate(
            zip(scored.user_ids, seg.segments, seg.ranks, scored.scores, strict=True)
        )
    ]
    with transaction.atomic():
        run, _ = PerformerRun.objects.select_for_update().get_or_create(
            scope=scope, course_id=course_id, defaults={"as_of": as_of}
        )
        run.as_of = as_of
        run.computed_at = timezone.now()
        run.population = len(members)
        run.star_count = seg.star_count
        run.lagging_count = seg.lagging_count
        run.star_threshold = None if seg.star_threshold is None else round(seg.star_threshold, 2)
        run.lagging_threshold = (
            None if seg.lagging_threshold is None else round(seg.lagging_threshold, 2)
        )
        run.weights = dict(performance.WEIGHTS)
        run.save()
        PerformerMember.objects.filter(run=run).delete()
        PerformerFactor.objects.filter(run=run).delete()
        for m in members:
            m.run = run
        PerformerMember.objects.bulk_create(members, batch_size=BATCH)
        PerformerFactor.objects.bulk_create(
            [
                PerformerFactor(
                    run=run,
                    signal=c.signal,
                    n_star=c.n_a,
                    n_lagging=c.n_b,
                    star_mean=c.mean_a,
                    lagging_mean=c.mean_b,
                    cohen_d=_capped(c.cohen_d),
                    d_low=_capped(c.d_low),
                    d_high=_capped(c.d_high),
                    p_value=c.p_value,
                    p_value_holm=c.p_value_holm,
                    significant=c.significant and min(c.n_a, c.n_b) >= MIN_FACTOR_GROUP,
                )
                for c in comparisons
            ],
            batch_size=BATCH,
        )
    return len(members), comparisons, seg


def _rows(
    rows: np.ndarray,
    user_ids: np.ndarray,
    scores: np.ndarray,
    parts: Mapping[str, np.ndarray],
    columns: Mapping[str, np.ndarray],
) -> _Scored:
    return _Scored(
        user_ids=user_ids[rows],
        scores=scores[rows],
        parts={c: v[rows] for c, v in parts.items()},
        enrollments=np.ones(len(rows), dtype=np.int64),
        columns={name: v[rows] for name, v in columns.items()},
    )


def _per_learner(
    user_ids: np.ndarray,
    scores: np.ndarray,
    parts: Mapping[str, np.ndarray],
    columns: Mapping[str, np.ndarray],
) -> _Scored:
    """Every learner once: the means over their enrollments (MISSING left out of a mean)."""
    names = list(parts)
    stacked = np.column_stack(
        [scores, *(parts[c] for c in names)]
        + [
            np.where(columns[s] == performance.MISSING, np.nan, columns[s])
            if s in SENTINEL_SIGNALS
            else columns[s]
            for s in SIGNAL_NAMES
        ]
    )
    keys, means = performance.group_means(stacked, user_ids)
    _, counts = np.unique(user_ids, return_counts=True)
    k = len(names)
    return _Scored(
        user_ids=keys,
        scores=means[:, 0],
        parts={c: means[:, 1 + j] for j, c in enumerate(names)},
        enrollments=counts,
        columns={s: means[:, 1 + k + j] for j, s in enumerate(SIGNAL_NAMES)},
    )


def _per_instructor(
    course_ids: np.ndarray,
    scores: np.ndarray,
    parts: Mapping[str, np.ndarray],
    segments: np.ndarray,
    instructor_of: Mapping[int, int],
) -> _Scored:
    """Every instructor with an enrollment in progress in their courses: the mean score and
    components of those enrollments, and (as the extra components `star_share` and
    `lagging_share`) the share of them in their course's star and lagging segments."""
    owner = np.array([instructor_of.get(int(c), 0) for c in course_ids], dtype=np.int64)
    keep = owner > 0
    names = list(parts)
    stacked = np.column_stack(
        [
            scores,
            *(parts[c] for c in names),
            (segments == performance.STAR).astype(np.float64),
            (segments == performance.LAGGING).astype(np.float64),
        ]
    )[keep]
    if not keep.any():
        empty = np.zeros(0)
        return _Scored(
            np.zeros(0, dtype=np.int64),
            empty,
            {c: empty for c in [*names, "star_share", "lagging_share"]},
            np.zeros(0, dtype=np.int64),
            None,
        )
    keys, means = performance.group_means(stacked, owner[keep])
    _, counts = np.unique(owner[keep], return_counts=True)
    shares = {"star_share": means[:, -2], "lagging_share": means[:, -1]}
    return _Scored(
        user_ids=keys,
        scores=means[:, 0],
        parts={**{c: means[:, 1 + j] for j, c in enumerate(names)}, **shares},
        enrollments=counts,
        columns=None,
    )


def performers_compute(
    *,
    course: Course | None = None,
    as_of: datetime.date | None = None,
    progress: Progress | None = None,
) -> PerformersComputed:
    """Score every enrollment in progress as of `as_of` (default: today, UTC), then store the
    segments and factors of every course, of all learners and of all instructors; with
    `course`, of that course only. A course without an enrollment in progress gets an empty
    snapshot (population 0). Reads the activity in one bulk pass (the risk model's five
    queries), then writes one transaction per scope."""
    as_of = as_of or timezone.now().astimezone(datetime.UTC).date()
    act = learner_activity(as_of=as_of)
    X = compute_signals(act)
    columns = {name: X[:, j].astype(np.float64) for j, name in enumerate(SIGNAL_NAMES)}
    parts = performance.components(columns)
    scores = performance.composite_score(parts)
    user_ids = np.asarray(act.user_ids, dtype=np.int64)
    course_ids = np.asarray(act.course_ids, dtype=np.int64)

    courses = Course.objects.order_by("id")
    if course is not None:
        courses = courses.filter(pk=course.pk)
    instructor_of = dict(courses.values_list("id", "instructor_id"))
    total = len(instructor_of) + (0 if course is not None else 2)
    runs = members = compared = presented = 0
    segments = np.full(len(user_ids), performance.AVERAGE, dtype=object)

    def stored(n: int, comparisons: list[Comparison], stage: str) -> None:
        nonlocal runs, members, compared, presented
        runs += 1
        members += n
        compared += len(comparisons)
        presented += sum(
            c.significant and min(c.n_a, c.n_b) >= MIN_FACTOR_GROUP for c in comparisons
        )
        if progress is not None:
            progress(stage, runs, total)

    # The rows of each course, by one sort (not one scan of every row per course).
    by_course = np.argsort(course_ids, kind="stable")
    sorted_ids = course_ids[by_course]
    for course_id in instructor_of:
        lo, hi = np.searchsorted(sorted_ids, [course_id, course_id + 1])
        rows = np.sort(by_course[lo:hi])
        scored = _rows(rows, user_ids, scores, parts, columns)
        n, comparisons, seg = _store(
            scope=PerformerScope.COURSE,
            course_id=course_id,
            as_of=as_of,
            scored=scored,
            minimum=performance.MIN_POPULATION,
        )
        segments[rows] = seg.segments
        stored(n, comparisons, "courses")

    if course is None:
        n, comparisons, _ = _store(
            scope=PerformerScope.OVERALL,
            course_id=None,
            as_of=as_of,
            scored=_per_learner(user_ids, scores, parts, columns),
            minimum=performance.MIN_POPULATION,
        )
        stored(n, comparisons, "learners")
        n, comparisons, _ = _store(
            scope=PerformerScope.INSTRUCTORS,
            course_id=None,
            as_of=as_of,
            scored=_per_instructor(
                course_ids,
                scores,
                parts,
                segments,
                {c: i for c, i in instructor_of.items() if i is not None},
            ),
            minimum=performance.MIN_INSTRUCTORS,
        )
        stored(n, comparisons, "instructors")
    return PerformersComputed(
        as_of=as_of, runs=runs, members=members, factors=compared, significant=presented
    )
