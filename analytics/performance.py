"""Star performers, the numbers: a composite performance score, segments, what tells them apart.

Pure functions over numpy arrays; no Django, no database. ``analytics.services.performers``
feeds them the engagement signal matrix (one row per enrollment in progress, the risk model's
columns) and stores what they return.

**The composite score** (0-100) of an enrollment is the weighted mean of five components, each
normalised to 0-1 from the enrollment's signals:

=============  ======  ====================================================================
component      weight  definition
=============  ======  ====================================================================
progress       30 %    share of the course's lessons completed (``progress``)
quiz results   20 %    mean quiz score over the last 8 weeks (``quiz_mean_score``, 0-1)
consistency    20 %    half the weeks of the last 4 with any activity (``active_weeks_4w`` / 4),
                       half the active days of the last 28, up to three a week
                       (min(``active_days_28d``, 12) / 12)
recency        15 %    1 - days since the last activity / 28 (1 today, 0 after four weeks)
completion     15 %    lessons completed / lessons started in the last 28 days
                       (``lesson_completion_ratio_28d``): finishing what one starts
=============  ======  ====================================================================

A component that is undefined for an enrollment (no quiz taken, no lesson started in four
weeks, a course without lessons) is left out and the other weights scale up to 100 %, so a
learner is neither punished nor rewarded for what they had no chance to do. Consistency and
recency are always defined, so every enrollment has a score.

**Segments**: within a population (a course's enrollments; all learners; all instructors),
ranked by score (highest first, ties by id), the top 10 % are *star*, the bottom 10 % *lagging*,
the rest *average*; 10 % is n / 10 rounded half up, at least one, and a population smaller than
``MIN_POPULATION`` is not segmented. Exact ranks rather than score cut-offs keep the segments
10 % even when many learners tie (e.g. all the never-started at one score); the thresholds
reported are the lowest star score and the highest lagging score.

**Differentiating factors**: every signal except the ones the score is built from and two
restatements of recency (they differ by construction) is compared between the star and
lagging rows with ``analytics.services.significance.compare_groups`` (Welch's t-test,
Cohen's d with its 95 % interval, Holm over all the signals); a signal's MISSING sentinel
(-1 = "no quiz") is left out of its means, not averaged in.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engagement.scoring.signals.catalogue import MISSING  # the sentinel for "undefined"

STAR, AVERAGE, LAGGING = "star", "average", "lagging"
SEGMENTS = (STAR, AVERAGE, LAGGING)
SHARE = 0.10  # top and bottom 10 %
MIN_POPULATION = 10  # fewer enrollments or learners than this: no segments
MIN_INSTRUCTORS = (
    3  # instructors are few: one star and one lagging out of three already says something
)
RECENCY_DAYS = 28.0
ACTIVE_DAYS_FULL = 12.0  # three active days a week over four weeks is full consistency

WEIGHTS: dict[str, float] = {
    "progress": 0.30,
    "quiz": 0.20,
    "consistency": 0.20,
    "recency": 0.15,
    "completion": 0.15,
}
COMPONENT_LABELS: dict[str, str] = {
    "progress": "Progress",
    "quiz": "Quiz results",
    "consistency": "Consistency",
    "recency": "Recency",
    "completion": "Completion",
}
# What each component measures, for the page.
COMPONENT_DEFINITIONS: dict[str, str] = {
    "progress": "share of the course's lessons completed",
    "quiz": "mean quiz score over the last 8 weeks",
    "consistency": (
        "half: weeks of the last 4 with any activity; half: active days of the last 28, "
        "up to three a week"
    ),
    "recency": "1 on the day of the last activity, falling to 0 after 28 days",
    "completion": "lessons completed of those started in the last 28 days",
}
# The signals each component reads; they are not offered as differentiating factors.
COMPONENT_SIGNALS: tuple[str, ...] = (
    "progress",
    "quiz_mean_score",
    "active_weeks_4w",
    "active_days_28d",
    "recency_days",
    "lesson_completion_ratio_28d",
    # Recency again, as the course percentile and as the gap at the window's end.
    "cohort_pct_recency",
    "current_gap_days",
)


def _defined(values: np.ndarray) -> np.ndarray:
    """The signal's values with its MISSING sentinel (and anything non-finite) as NaN."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[(out == MISSING) | ~np.isfinite(out)] = np.nan
    return out


def components(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each enrollment's five components, 0-1, NaN where undefined, from its signal columns
    (``columns[name]`` = one value per enrollment, the catalogue's units)."""
    weeks = np.clip(np.asarray(columns["active_weeks_4w"], dtype=np.float64) / 4.0, 0.0, 1.0)
    days = np.clip(np.asarray(columns["active_days_28d"], dtype=np.float64), 0.0, ACTIVE_DAYS_FULL)
    recency = np.asarray(columns["recency_days"], dtype=np.float64)
    return {
        "progress": np.clip(_defined(columns["progress"]), 0.0, 1.0),
        "quiz": np.clip(_defined(columns["quiz_mean_score"]), 0.0, 1.0),
        "consistency": 0.5 * weeks + 0.5 * days / ACTIVE_DAYS_FULL,
        "recency": np.clip(1.0 - recency / RECENCY_DAYS, 0.0, 1.0),
        "completion": np.clip(_defined(columns["lesson_completion_ratio_28d"]), 0.0, 1.0),
    }


def composite_score(parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """The composite score, 0-100: the WEIGHTS-weighted mean of the defined components (the
    weights of the undefined ones shared out over the others); 0 when none is defined."""
    names = list(WEIGHTS)
    values = np.column_stack([np.asarray(parts[c], dtype=np.float64) for c in names])
    weights = np.array([WEIGHTS[c] for c in names])
    present = np.isfinite(values)
    total = (present * weights).sum(axis=1)
    weighted = (np.where(present, values, 0.0) * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, weighted / total, 0.0)
    return 100.0 * score


def segment_size(n: int, *, minimum: int = MIN_POPULATION) -> int:
    """How many are star (and how many lagging) out of `n`: 10 % rounded half up, at least
    one; none when n < minimum."""
    if n < minimum:
        return 0
    return max(1, math.floor(n * SHARE + 0.5))


@dataclass(frozen=True)
class Segmentation:
    """A population's segments: per row its segment and rank (1 = best), and the cut-offs."""

    segments: list[str]
    ranks: list[int]
    star_count: int
    lagging_count: int
    star_threshold: float | None  # the lowest star score
    lagging_threshold: float | None  # the highest lagging score


def segment(
    scores: Sequence[float] | np.ndarray,
    ids: Sequence[int] | np.ndarray,
    *,
    minimum: int = MIN_POPULATION,
) -> Segmentation:
    """Rank `scores` (highest first, ties by the smaller id) and cut off the top and bottom
    10 % (see the module docstring)."""
    s = np.asarray(scores, dtype=np.float64)
    i = np.asarray(ids, dtype=np.int64)
    n = len(s)
    order = np.lexsort((i, -s))  # by score descending, then id ascending
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)
    k = segment_size(n, minimum=minimum)
    labels = np.full(n, AVERAGE, dtype=object)
    if k:
        labels[order[:k]] = STAR
        labels[order[n - k :]] = LAGGING
    return Segmentation(
        segments=labels.tolist(),
        ranks=ranks.tolist(),
        star_count=k,
        lagging_count=k,
        star_threshold=float(s[order[k - 1]]) if k else None,
        lagging_threshold=float(s[order[n - k]]) if k else None,
    )


def factor_groups(
    columns: Mapping[str, np.ndarray],
    segments: Sequence[str],
    *,
    sentinel: Collection[str] = (),
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The star rows' and the lagging rows' values of every candidate signal ({signal:
    values}), ready for `compare_groups`: NaN left out, and MISSING too for the signals in
    `sentinel` (those that use it for "undefined"; elsewhere -1 is a value, e.g. a trend).
    The component signals are not candidates."""
    labels = np.asarray(segments, dtype=object)
    star, lagging = labels == STAR, labels == LAGGING
    a: dict[str, np.ndarray] = {}
    b: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if name in COMPONENT_SIGNALS:
            continue
        v = _defined(values) if name in sentinel else np.asarray(values, dtype=np.float64)
        a[name] = v[star][np.isfinite(v[star])]
        b[name] = v[lagging][np.isfinite(v[lagging])]
    return a, b


def group_means(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct value of `groups` (sorted), the NaN-ignoring mean of each column of
    `values` (rows x columns); returns (group keys, means). A column with no defined value in
    a group is NaN there."""
    keys, inverse = np.unique(np.asarray(groups), return_inverse=True)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    defined = np.isfinite(v)
    sums = np.zeros((len(keys), v.shape[1]))
    counts = np.zeros((len(keys), v.shape[1]))
    np.add.at(sums, inverse, np.where(defined, v, 0.0))
    np.add.at(counts, inverse, defined.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    return keys, means
