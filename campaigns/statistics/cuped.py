"""CUPED: variance reduction from each learner's pre-exposure activity.

The adjusted outcome is y - theta * x, with x the learner's value of the metric before
exposure. Exposure is random, so x is balanced across variants and subtracting theta * x
leaves the difference unbiased; with theta = Cov(x, y) / Var(x), estimated on control and
treatment pooled, the variance falls by the share Corr(x, y)^2. Theta is estimated per pair,
as gbstats does; where the pooled x or y has no variance it is 0 (no adjustment).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from campaigns.statistics.summaries import CupedStatistic, Number, as_number


def cuped_theta(control: CupedStatistic, treatment: CupedStatistic) -> Number:
    """The regression coefficient of y on x over both variants pooled (0 if undefined)."""
    pooled = control + treatment
    var_x = np.asarray(pooled.variance_x, dtype=float)
    var_y = np.asarray(pooled.variance, dtype=float)
    usable = (var_x > 0) & (var_y > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.asarray(pooled.covariance, dtype=float) / var_x
    return as_number(np.where(usable, theta, 0.0))


def adjusted_moments(
    stat: CupedStatistic, theta: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The variant's CUPED-adjusted mean and per-learner variance for a given theta."""
    theta = np.asarray(theta, dtype=float)
    mean = np.asarray(stat.mean, dtype=float) - theta * np.asarray(stat.mean_x, dtype=float)
    variance = (
        np.asarray(stat.variance, dtype=float)
        + theta**2 * np.asarray(stat.variance_x, dtype=float)
        - 2 * theta * np.asarray(stat.covariance, dtype=float)
    )
    return mean, variance


def cuped_variance_reduction(control: CupedStatistic, treatment: CupedStatistic) -> Number:
    """The share of the uplift's variance that CUPED removed (0.3 = 30% less variance).

    It compares the delta-method variance of the relative uplift with and without the
    adjustment; 0 where either cannot be computed.
    """
    from campaigns.statistics.comparison import relative_difference
    from campaigns.statistics.summaries import MeanStatistic

    adjusted = relative_difference(control, treatment)
    plain = relative_difference(
        MeanStatistic(n=control.n, sum=control.sum_y, sum_squares=control.sum_y2),
        MeanStatistic(n=treatment.n, sum=treatment.sum_y, sum_squares=treatment.sum_y2),
    )
    a = np.asarray(adjusted.variance, dtype=float)
    p = np.asarray(plain.variance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1 - a / p
    return as_number(np.where((a > 0) & (p > 0), share, 0.0))
