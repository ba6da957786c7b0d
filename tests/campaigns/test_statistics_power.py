"""The power and running-time calculator: its arithmetic, and its predictions against
simulated experiments (fixed seeds, every experiment at once as arrays).
"""

from __future__ import annotations

import numpy as np
import pytest

from campaigns.statistics import (
    MeanBaseline,
    MeanStatistic,
    ProportionBaseline,
    ProportionStatistic,
    minimum_detectable_effect,
    power_at,
    sample_size,
    sequential_ttest,
    ttest,
)

# A thousand experiments per simulation, all at once through array-valued statistics.
EXPERIMENTS = 1000


def test_measured_power_matches_the_calculator_for_a_binomial_metric() -> None:
    baseline, mde = 0.1, 0.1
    planned = sample_size(baseline=ProportionBaseline(rate=baseline), mde=mde, power=0.8)
    n_c, n_t = planned.users_per_variant
    rng = np.random.default_rng(7)
    control = ProportionStatistic(
        n=np.full(EXPERIMENTS, n_c, dtype=float),
        conversions=rng.binomial(n_c, baseline, size=EXPERIMENTS).astype(float),
    )
    treatment = ProportionStatistic(
        n=np.full(EXPERIMENTS, n_t, dtype=float),
        conversions=rng.binomial(n_t, baseline * (1 + mde), size=EXPERIMENTS).astype(float),
    )
    result = ttest(control, treatment)
    measured = np.mean((result.p_value < 0.05) & (result.uplift > 0))
    predicted = power_at(
        baseline=ProportionBaseline(rate=baseline), mde=mde, control_users=n_c, treatment_users=n_t
    )
    assert predicted == pytest.approx(0.8, abs=0.001)
    assert abs(measured - predicted) <= 0.05, (measured, predicted)


def test_measured_power_matches_the_calculator_for_a_count_metric() -> None:
    """Lessons completed per learner (Poisson, mean 3) with an unequal 1:2 split."""
    mean, mde = 3.0, 0.08
    planned = sample_size(
        baseline=MeanBaseline(mean=mean, variance=mean), mde=mde, power=0.7, weights=[1, 2]
    )
    n_c, n_t = planned.users_per_variant
    assert n_t == pytest.approx(2 * n_c, abs=2)
    rng = np.random.default_rng(11)
    y_c = rng.poisson(mean, size=(EXPERIMENTS, n_c)).astype(float)
    y_t = rng.poisson(mean * (1 + mde), size=(EXPERIMENTS, n_t)).astype(float)
    result = ttest(
        MeanStatistic(n=float(n_c), sum=y_c.sum(axis=1), sum_squares=(y_c**2).sum(axis=1)),
        MeanStatistic(n=float(n_t), sum=y_t.sum(axis=1), sum_squares=(y_t**2).sum(axis=1)),
    )
    measured = np.mean(result.p_value < 0.05)
    predicted = power_at(
        baseline=MeanBaseline(mean=mean, variance=mean),
        mde=mde,
        control_users=n_c,
        treatment_users=n_t,
    )
    assert abs(measured - predicted) <= 0.05, (measured, predicted)


def test_measured_power_matches_the_calculator_for_the_sequential_test() -> None:
    """The sequential plan, read daily for 14 days: at the last look the power is as
    predicted, and reading it daily stops some experiments earlier, never fewer."""
    baseline, mde, days = ProportionBaseline(rate=0.15), 0.1, 14
    planned = sample_size(baseline=baseline, mde=mde, test="sequential")
    fixed = sample_size(baseline=baseline, mde=mde)
    assert planned.total_users > 1.5 * fixed.total_users  # the price of peeking freely
    per_day = -(-planned.users_per_variant[0] // days)
    rng = np.random.default_rng(17)
    n = np.broadcast_to(per_day * np.arange(1, days + 1, dtype=float), (EXPERIMENTS, days))
    daily = rng.binomial(
        per_day, [baseline.rate, baseline.rate * (1 + mde)], (EXPERIMENTS, days, 2)
    )
    cumulative = np.cumsum(daily, axis=1).astype(float)
    result = sequential_ttest(
        ProportionStatistic(n=n, conversions=cumulative[:, :, 0]),
        ProportionStatistic(n=n, conversions=cumulative[:, :, 1]),
    )
    found = (result.p_value < 0.05) & (result.uplift > 0)
    predicted = power_at(
        baseline=baseline,
        mde=mde,
        control_users=per_day * days,
        treatment_users=per_day * days,
        test="sequential",
    )
    assert abs(found[:, -1].mean() - predicted) <= 0.05, (found[:, -1].mean(), predicted)
    assert found.any(axis=1).mean() >= found[:, -1].mean()


def test_minimum_detectable_effect_inverts_the_power() -> None:
    baseline = MeanBaseline(mean=4.0, variance=10.0)
    for test in ("fixed", "sequential"):
        mde = minimum_detectable_effect(
            baseline=baseline, control_users=3000, treatment_users=3000, test=test
        )
        assert power_at(
            baseline=baseline, mde=mde, control_users=3000, treatment_users=3000, test=test
        ) == pytest.approx(0.8, abs=1e-4)
    planned = sample_size(baseline=ProportionBaseline(rate=0.3), mde=0.07)
    n_c, n_t = planned.users_per_variant
    mde = minimum_detectable_effect(
        baseline=ProportionBaseline(rate=0.3), control_users=n_c, treatment_users=n_t
    )
    assert mde == pytest.approx(0.07, abs=0.001)


def test_sample_size_reaches_the_power_asked_and_no_more() -> None:
    baseline = ProportionBaseline(rate=0.2)
    planned = sample_size(baseline=baseline, mde=-0.05, alpha=0.05, power=0.9)
    n_c, n_t = planned.users_per_variant

    def at(n: float) -> float:
        return power_at(baseline=baseline, mde=-0.05, control_users=n, treatment_users=n)

    assert at(n_c) >= 0.9 > at(n_c - 50)
    assert planned.total_users == n_c + n_t
    assert planned.days is None


def test_running_time_follows_the_traffic_and_the_split() -> None:
    baseline = ProportionBaseline(rate=0.1)
    even = sample_size(baseline=baseline, mde=0.1, variants=3, daily_users=1000)
    assert len(even.users_per_variant) == 3
    assert even.days == -(-even.total_users // 1000)
    # A 10/90 split needs more learners in all than an even one.
    skewed = sample_size(baseline=baseline, mde=0.1, weights=[10, 90], daily_users=1000)
    assert skewed.total_users > sample_size(baseline=baseline, mde=0.1).total_users
    # Halving the effect to detect takes about four times the learners.
    smaller = sample_size(baseline=baseline, mde=0.05)
    ratio = smaller.total_users / sample_size(baseline=baseline, mde=0.1).total_users
    assert ratio == pytest.approx(4, rel=0.1)
    with pytest.raises(ValueError):
        sample_size(baseline=baseline, mde=0.1, variants=3, weights=[1, 1])
