"""CUPED: less variance from pre-exposure activity, with the estimate left unbiased
(simulated experiments with fixed seeds).
"""

from __future__ import annotations

import numpy as np
import pytest

from campaigns.statistics import (
    CupedStatistic,
    MeanStatistic,
    ProportionStatistic,
    cuped_variance_reduction,
    ttest,
)


def test_cuped_reduces_variance_and_stays_unbiased() -> None:
    rng = np.random.default_rng(42)
    experiments, n, effect, rho = 400, 1000, 0.05, 0.7
    x = rng.gamma(2.0, 1.5, size=(experiments, 2, n))
    noise = rng.gamma(2.0, 1.5, size=(experiments, 2, n))
    y = rho * x + np.sqrt(1 - rho**2) * noise
    y[:, 1] *= 1 + effect  # the treatment's true relative uplift is `effect`

    def sums(v: int) -> CupedStatistic:
        xv, yv = x[:, v], y[:, v]
        return CupedStatistic(
            n=float(n),
            sum_x=xv.sum(axis=1),
            sum_x2=(xv**2).sum(axis=1),
            sum_y=yv.sum(axis=1),
            sum_y2=(yv**2).sum(axis=1),
            sum_xy=(xv * yv).sum(axis=1),
        )

    control, treatment = sums(0), sums(1)
    adjusted = ttest(control, treatment)
    plain = ttest(
        MeanStatistic(n=float(n), sum=control.sum_y, sum_squares=control.sum_y2),
        MeanStatistic(n=float(n), sum=treatment.sum_y, sum_squares=treatment.sum_y2),
    )
    observed_reduction = 1 - np.var(adjusted.uplift) / np.var(plain.uplift)
    reported_reduction = np.mean(cuped_variance_reduction(control, treatment))
    # With x and y correlated about 0.7, the variance falls by roughly half.
    assert observed_reduction > 0.35, observed_reduction
    assert reported_reduction == pytest.approx(observed_reduction, abs=0.1)
    standard_error = np.std(adjusted.uplift) / np.sqrt(experiments)
    assert abs(np.mean(adjusted.uplift) - effect) < 3 * standard_error
    # The interval keeps its coverage once adjusted.
    coverage = np.mean((adjusted.ci_low <= effect) & (adjusted.ci_high >= effect))
    assert coverage == pytest.approx(0.95, abs=0.03)


def test_cuped_on_retention_against_earlier_activity() -> None:
    """A binary outcome (retained) adjusted by a count (lessons before): less variance, and
    a null effect stays null in the interval as often as it should."""
    rng = np.random.default_rng(8)
    experiments, n = 400, 2000
    lessons = rng.poisson(2.0, size=(experiments, 2, n)).astype(float)
    retained = (rng.uniform(size=lessons.shape) < np.clip(0.05 + 0.2 * lessons, 0, 1)) * 1.0

    def sums(v: int) -> CupedStatistic:
        x, y = lessons[:, v], retained[:, v]
        return CupedStatistic(
            n=float(n),
            sum_x=x.sum(axis=1),
            sum_x2=(x**2).sum(axis=1),
            sum_y=y.sum(axis=1),
            sum_y2=y.sum(axis=1),
            sum_xy=(x * y).sum(axis=1),
            binary_y=True,
        )

    adjusted = ttest(sums(0), sums(1))
    plain = ttest(
        ProportionStatistic(n=float(n), conversions=retained[:, 0].sum(axis=1)),
        ProportionStatistic(n=float(n), conversions=retained[:, 1].sum(axis=1)),
    )
    assert np.mean(adjusted.stddev) < 0.9 * np.mean(plain.stddev)
    assert np.mean(adjusted.p_value < 0.05) == pytest.approx(0.05, abs=0.03)
    with pytest.raises(TypeError):
        sums(0) + CupedStatistic(n=1, sum_x=1, sum_x2=1, sum_y=1, sum_y2=1, sum_xy=1)


def test_cuped_without_covariate_variance_falls_back_to_the_plain_test() -> None:
    flat = {"sum_x": 100.0, "sum_x2": 100.0}  # x = 1 for every learner
    control = CupedStatistic(n=100, sum_y=300.0, sum_y2=1200.0, sum_xy=300.0, **flat)
    treatment = CupedStatistic(n=100, sum_y=330.0, sum_y2=1400.0, sum_xy=330.0, **flat)
    plain = ttest(MeanStatistic(100, 300.0, 1200.0), MeanStatistic(100, 330.0, 1400.0))
    assert ttest(control, treatment) == plain
    assert cuped_variance_reduction(control, treatment) == 0
