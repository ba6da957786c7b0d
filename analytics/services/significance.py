"""Comparing two groups of learners, signal by signal, with statistics a reader can check.

Pure functions over numbers; nothing here reads or writes the database. The star-performer and
first-week analyses both use them, so "significant" means the same on every page:

- Welch's t-test (scipy's `ttest_ind(equal_var=False)`): the groups' variances may differ;
- Cohen's d with the pooled standard deviation, and its 95% interval from the normal
  approximation of its standard error (Hedges & Olkin 1985, eq. 5.14);
- Holm's step-down correction over all the signals compared at once (`holm`; the same values
  as statsmodels' `multipletests(method="holm")`, which the tests check, without the full
  garbage collection it runs on every call: 0.3 s each with a big analysis in memory), so
  testing 76 signals does not find differences by chance;
- a difference is *presented* only when it is significant after Holm (p < ALPHA) and at least
  small (|d| >= MIN_EFFECT): with thousands of learners a trivial difference is "significant".
- Wilson intervals for proportions (statsmodels' `proportion_confint`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05
MIN_EFFECT = 0.2  # Cohen's "small"
MIN_GROUP = 2  # a t-test needs at least two values on each side


@dataclass(frozen=True)
class Comparison:
    """One signal compared between group A (e.g. star) and group B (e.g. lagging)."""

    signal: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    cohen_d: float
    d_low: float
    d_high: float
    p_value: float
    p_value_holm: float

    @property
    def significant(self) -> bool:
        return self.p_value_holm < ALPHA and abs(self.cohen_d) >= MIN_EFFECT

    @property
    def effect_size(self) -> str:
        """Cohen's conventional words for |d|."""
        return effect_size(self.cohen_d)


def effect_size(d: float) -> str:
    """Cohen's conventional words for |d|: large, medium, small or negligible."""
    size = abs(d)
    if size >= 0.8:
        return "large"
    if size >= 0.5:
        return "medium"
    if size >= MIN_EFFECT:
        return "small"
    return "negligible"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the k-th smallest of m is
    multiplied by m - k + 1, made non-decreasing along that order, and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def cohen_d(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Cohen's d of A against B (pooled SD) and its 95% interval. Zero when both groups are
    constant and equal; two constant but unequal groups give d = +/-inf (a finite d from a
    tiny SD would mislead)."""
    n_a, n_b = len(a), len(b)
    diff = float(a.mean() - b.mean())
    pooled_var = ((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / (n_a + n_b - 2)
    if pooled_var <= 0:
        if diff == 0:
            return 0.0, 0.0, 0.0
        d = math.copysign(math.inf, diff)
        return d, d, d
    d = diff / math.sqrt(pooled_var)
    se = math.sqrt((n_a + n_b) / (n_a * n_b) + d * d / (2 * (n_a + n_b)))
    z = float(stats.norm.ppf(0.975))
    return d, d - z * se, d + z * se


def compare_groups(
    group_a: Mapping[str, Sequence[float]], group_b: Mapping[str, Sequence[float]]
) -> list[Comparison]:
    """Compare every signal present in both mappings ({signal: values}); Holm-correct the
    p-values over all of them; return the comparisons ordered by |d|, largest first. Signals
    with fewer than MIN_GROUP values on a side, or constant and equal in both, are skipped:
    there is nothing to test."""
    raw: list[tuple[str, np.ndarray, np.ndarray, float, float, float, float]] = []
    for signal in sorted(set(group_a) & set(group_b)):
        a = np.asarray(group_a[signal], dtype=float)
        b = np.asarray(group_b[signal], dtype=float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) < MIN_GROUP or len(b) < MIN_GROUP:
            continue
        if a.var() == 0 and b.var() == 0:
            if a[0] == b[0]:
                continue
            p = 0.0  # two constant, different groups: the difference is certain
        else:
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        d, low, high = cohen_d(a, b)
        raw.append((signal, a, b, p, d, low, high))
    if not raw:
        return []
    adjusted = holm([r[3] for r in raw])
    out = [
        Comparison(
            signal=signal,
            n_a=len(a),
            n_b=len(b),
            mean_a=float(a.mean()),
            mean_b=float(b.mean()),
            cohen_d=d,
            d_low=low,
            d_high=high,
            p_value=p,
            p_value_holm=float(p_holm),
        )
        for (signal, a, b, p, d, low, high), p_holm in zip(raw, adjusted, strict=True)
    ]
    out.sort(key=lambda c: (-abs(c.cohen_d), c.signal))
    return out


def significant(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The differences worth presenting: significant after Holm and at least small."""
    return [c for c in comparisons if c.significant]


@dataclass(frozen=True)
class Proportion:
    successes: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.successes / self.total if self.total else 0.0


def proportion(successes: int, total: int) -> Proportion:
    """A rate with its 95% Wilson interval (0..1 when there is nobody)."""
    if total <= 0:
        return Proportion(0, 0, 0.0, 1.0)
    low, high = proportion_confint(successes, total, alpha=ALPHA, method="wilson")
    return Proportion(successes, total, float(low), float(high))
