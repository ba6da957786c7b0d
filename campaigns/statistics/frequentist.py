"""Frequentist tests of the relative uplift: fixed horizon and always valid.

``ttest`` is Welch's t-test on the delta-method variance (``comparison``), read once at a
planned sample size. ``sequential_ttest`` gives a confidence sequence: an interval that holds
at every look at once, so the results page can be read daily without inflating false
positives. It is the asymptotic confidence sequence of Waudby-Smith et al. (2023, eq. 9 of
arXiv:2103.06476v7), with the mixing parameter rho chosen to be tightest near a total
sample of ``tuning`` learners (eq. 161), and the p-value from its e-value (eq. 155). Both
follow gbstats 0.8.0's ``TwoSidedTTest`` and ``SequentialTwoSidedTTest``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from campaigns.statistics.comparison import relative_difference
from campaigns.statistics.summaries import Number, Statistic, as_number

DEFAULT_ALPHA = 0.05
DEFAULT_SEQUENTIAL_TUNING = 5000.0
"""gbstats's default: the total sample (both variants) where the sequence is tightest."""


@dataclass(frozen=True)
class FrequentistResult:
    """A relative uplift with its interval (``ci_low``, ``ci_high``) and two-sided p-value.

    All in relative terms: an uplift of 0.05 is +5% over control. ``valid`` is False where
    the test could not be computed; the result is then uplift 0, interval [0, 0], p 1.
    """

    uplift: Number
    ci_low: Number
    ci_high: Number
    p_value: Number
    stddev: Number
    valid: bool | np.ndarray

    @property
    def ci(self) -> tuple[Number, Number]:
        """The interval as a (low, high) pair."""
        return (self.ci_low, self.ci_high)


def ttest(
    control: Statistic, treatment: Statistic, *, alpha: float = DEFAULT_ALPHA
) -> FrequentistResult:
    """Welch's two-sided t-test of the relative uplift, with its 1 - alpha interval."""
    diff = relative_difference(control, treatment)
    sd = np.sqrt(diff.variance)
    dof = np.asarray(diff.dof, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(diff.estimate) / sd
    p_value = 2 * stats.t.sf(z, dof)
    width = stats.t.ppf(1 - alpha / 2, dof) * sd
    return _result(diff.estimate, width, p_value, sd, diff.valid)


def sequential_ttest(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = DEFAULT_ALPHA,
    tuning: float = DEFAULT_SEQUENTIAL_TUNING,
) -> FrequentistResult:
    """The always-valid interval and p-value of the relative uplift at the current sample.

    The chance that the interval ever excludes the true uplift, over all looks however
    many, is at most ``alpha``; the p-value is below ``alpha`` exactly when the interval
    excludes zero.
    """
    diff = relative_difference(control, treatment)
    n = np.asarray(diff.n_total, dtype=float)
    rho2 = (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning
    spread = n * rho2 + 1
    s2 = np.asarray(diff.variance, dtype=float) * n  # per-learner variance of the estimate
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.sqrt(s2 * 2 * spread * np.log(np.sqrt(spread) / alpha) / (n**2 * rho2))
        st2 = np.asarray(diff.estimate, dtype=float) ** 2 * n / diff.variance
    log_evalue = rho2 * st2 / (2 * spread) - 0.5 * np.log(spread)
    p_value = np.exp(-np.maximum(log_evalue, 0.0))
    return _result(diff.estimate, width, p_value, np.sqrt(diff.variance), diff.valid)


def _result(
    estimate: Number,
    width: Number,
    p_value: Number,
    sd: Number,
    valid: bool | np.ndarray,
) -> FrequentistResult:
    valid_arr = np.asarray(valid)
    estimate = np.asarray(estimate, dtype=float)
    width = np.where(valid_arr, width, 0.0)
    return FrequentistResult(
        uplift=as_number(estimate),
        ci_low=as_number(np.where(valid_arr, estimate - width, 0.0)),
        ci_high=as_number(np.where(valid_arr, estimate + width, 0.0)),
        p_value=as_number(np.where(valid_arr, p_value, 1.0)),
        stddev=as_number(np.where(valid_arr, sd, 0.0)),
        valid=valid,
    )
