"""The statistics of the weekly insights: pure functions over numbers (no Django), so a test can
hold each against scipy and a reader can check what "significant" means.

- A metric's week-over-week movement compares the 7 daily values of the week just ended with
  the 7 of the week before: Welch's t-test and Cohen's d from `analytics.services.significance`
  (Holm-corrected over all the metrics compared at once). A movement is *significant* when
  p (Holm) < 0.05 and |d| >= 0.2, the same rule as the performer and first-week pages.
- Correlations of the engagement signals with the drop-off risk are Spearman's rank
  correlations (scipy's `spearmanr`), Holm-corrected over the signals; one is presented when
  significant and |rho| >= MIN_RHO.
- Learners' movements: each learner's active-event count this week minus last week; whether
  more learners declined than rose is the two-sided sign test (scipy's `binomtest`, p = 1/2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analytics.services.significance import ALPHA, compare_groups, holm

MIN_RHO = 0.1  # below it a correlation explains under 1% of the variance: not worth a card
MIN_CORRELATION_N = 10


@dataclass(frozen=True)
class Movement:
    """One metric this week against last week."""

    metric: str
    this_week: float  # the week's total, or its daily mean for a level metric
    last_week: float
    change_pct: float | None  # relative change in percent; None when last week was 0
    cohen_d: float
    p_value: float
    p_value_holm: float
    significant: bool


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def week_movements(
    this_week: Mapping[str, Sequence[float | None]],
    last_week: Mapping[str, Sequence[float | None]],
    *,
    levels: frozenset[str] = frozenset(),
) -> list[Movement]:
    """Every metric of both mappings ({metric: daily values}) compared week on week, in the
    order of `this_week`. A metric in `levels` is summarised by its daily mean (active
    learners, a share), any other by its weekly total. A metric with nothing to test (fewer
    than two values a side, or constant and equal) has p = 1 and is not significant."""
    compared = {c.signal: c for c in compare_groups(this_week, last_week)}
    out = []
    for metric in this_week:
        if metric not in last_week:
            continue
        a, b = _finite(this_week[metric]), _finite(last_week[metric])
        reduce = (lambda v: sum(v) / len(v) if v else 0.0) if metric in levels else sum
        now, before = float(reduce(a)), float(reduce(b))
        change = (now - before) / before * 100 if before else None
        c = compared.get(metric)
        out.append(
            Movement(
                metric=metric,
                this_week=now,
                last_week=before,
                change_pct=change,
                cohen_d=c.cohen_d if c else 0.0,
                p_value=c.p_value if c else 1.0,
                p_value_holm=c.p_value_holm if c else 1.0,
                significant=bool(c and c.significant),
            )
        )
    return out


@dataclass(frozen=True)
class Correlation:
    signal: str
    n: int
    rho: float
    p_value: float
    p_value_holm: float

    @property
    def significant(self) -> bool:
        return self.p_value_holm < ALPHA and abs(self.rho) >= MIN_RHO


def rank_correlations(
    signals: Mapping[str, Sequence[float | None]], outcome: Sequence[float]
) -> list[Correlation]:
    """Spearman's rho of each signal (values aligned with `outcome`; None or NaN where the
    signal is undefined, dropped pairwise) with `outcome`, Holm-corrected over the signals
    tested; strongest |rho| first. A signal with fewer than MIN_CORRELATION_N pairs, or
    constant, is skipped."""
    y_all = np.asarray(outcome, dtype=float)
    raw: list[tuple[str, int, float, float]] = []
    for name in sorted(signals):
        x = np.asarray([np.nan if v is None else v for v in signals[name]], dtype=float)
        keep = np.isfinite(x) & np.isfinite(y_all)
        x, y = x[keep], y_all[keep]
        if len(x) < MIN_CORRELATION_N or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        result = stats.spearmanr(x, y)
        rho, p = float(result.statistic), float(result.pvalue)
        if not math.isfinite(rho):
            continue
        raw.append((name, len(x), rho, p))
    if not raw:
        return []
    adjusted = holm([r[3] for r in raw])
    out = [
        Correlation(signal=name, n=n, rho=rho, p_value=p, p_value_holm=float(ph))
        for (name, n, rho, p), ph in zip(raw, adjusted, strict=True)
    ]
    out.sort(key=lambda c: (-abs(c.rho), c.signal))
    return out


@dataclass(frozen=True)
class LearnerMoves:
    """How the learners active in either week moved (anonymous: counts and ranks only)."""

    learners: int
    rising: int
    declining: int
    top_rises: list[int]  # the largest increases in events, largest first
    top_falls: list[int]  # the largest decreases (as positive numbers), largest first
    p_value: float  # sign test: rising vs declining equally likely

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def learner_moves(changes: Sequence[int], *, top: int = 3) -> LearnerMoves:
    """Summarise each learner's change in events (this week minus last week)."""
    rising = sorted((c for c in changes if c > 0), reverse=True)
    falling = sorted((-c for c in changes if c < 0), reverse=True)
    moved = len(rising) + len(falling)
    p = float(stats.binomtest(len(falling), moved, 0.5).pvalue) if moved else 1.0
    return LearnerMoves(
        learners=len(changes),
        rising=len(rising),
        declining=len(falling),
        top_rises=rising[:top],
        top_falls=falling[:top],
        p_value=p,
    )
