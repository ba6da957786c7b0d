"""The experiment statistics core against gbstats's answers, and its error rates by simulation.

No database: ``campaigns.statistics`` is pure numpy / scipy. The simulations run every
experiment at once through array-valued statistics, with fixed seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from campaigns.statistics import (
    CupedStatistic,
    GaussianPrior,
    MeanStatistic,
    ProportionStatistic,
    bayesian_test,
    holm_bonferroni,
    sequential_ttest,
    srm_check,
    ttest,
)

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "gbstats_reference.json").read_text(encoding="utf-8")
)
# The issue asks for 3 decimals; the methods are the same, so the agreement is to rounding
# error, and a tighter check catches a drift long before it would show.
TOLERANCE = 1e-6


def _statistic(
    kind: str, sums: dict[str, Any]
) -> ProportionStatistic | MeanStatistic | CupedStatistic:
    if kind == "binomial":
        return ProportionStatistic(n=sums["n"], conversions=sums["conversions"])
    if kind == "mean":
        return MeanStatistic(n=sums["n"], sum=sums["sum"], sum_squares=sums["sum_squares"])
    return CupedStatistic(**sums)


def _pair(case: dict[str, Any]) -> tuple[Any, Any]:
    inputs = case["inputs"]
    return _statistic(case["kind"], inputs["control"]), _statistic(
        case["kind"], inputs["treatment"]
    )


CASES = REFERENCE["cases"]
CASE_IDS = [f"{c['kind']}: {c['name']}" for c in CASES]


def test_reference_covers_what_the_issue_lists() -> None:
    kinds = {c["kind"] for c in CASES}
    assert REFERENCE["gbstats_version"] == "0.8.0"
    assert kinds == {"binomial", "mean", "cuped"}
    assert any(c["ttest"]["uplift"] < 0 for c in CASES), "a negative effect"
    assert any(c["inputs"]["control"]["n"] < 30 for c in CASES), "a small sample"
    assert any(c["inputs"]["control"]["n"] >= 100_000 for c in CASES), "a large sample"
    assert any(len(s["users"]) == 3 for s in REFERENCE["srm"]), "a three-variant SRM"
    assert any(c["sequential"]["p_value"] < 0.05 for c in CASES), "a sequential rejection"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_frequentist_agrees_with_gbstats(case: dict[str, Any]) -> None:
    control, treatment = _pair(case)
    for key, result in [
        ("ttest", ttest(control, treatment)),
        ("sequential", sequential_ttest(control, treatment)),
        ("sequential_tuning_500", sequential_ttest(control, treatment, tuning=500)),
    ]:
        expected = case[key]
        assert result.valid == (expected["error"] is None), key
        assert result.uplift == pytest.approx(expected["uplift"], abs=TOLERANCE), key
        assert result.ci_low == pytest.approx(expected["ci"][0], abs=TOLERANCE), key
        assert result.ci_high == pytest.approx(expected["ci"][1], abs=TOLERANCE), key
        assert result.p_value == pytest.approx(expected["p_value"], abs=TOLERANCE), key


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bayesian_agrees_with_gbstats(case: dict[str, Any]) -> None:
    control, treatment = _pair(case)
    for key, result in [
        ("bayesian", bayesian_test(control, treatment)),
        ("bayesian_inverse", bayesian_test(control, treatment, lower_is_better=True)),
        (
            "bayesian_proper_prior",
            bayesian_test(control, treatment, prior=GaussianPrior(mean=0, variance=0.09)),
        ),
    ]:
        expected = case[key]
        assert result.valid == (expected["error"] is None), key
        assert result.uplift == pytest.approx(expected["uplift"], abs=TOLERANCE), key
        assert result.ci_low == pytest.approx(expected["ci"][0], abs=TOLERANCE), key
        assert result.ci_high == pytest.approx(expected["ci"][1], abs=TOLERANCE), key
        assert result.chance_to_win == pytest.approx(expected["chance_to_win"], abs=TOLERANCE)
        assert result.risk_control == pytest.approx(expected["risk"][0], abs=TOLERANCE), key
        assert result.risk_treatment == pytest.approx(expected["risk"][1], abs=TOLERANCE), key


@pytest.mark.parametrize("case", REFERENCE["srm"], ids=[s["name"] for s in REFERENCE["srm"]])
def test_srm_agrees_with_gbstats(case: dict[str, Any]) -> None:
    result = srm_check(case["users"], case["weights"])
    assert result.p_value == pytest.approx(case["p_value"], abs=TOLERANCE)
    assert result.flagged == (case["p_value"] < 0.001)


def test_array_statistics_answer_as_one_call_per_element() -> None:
    """The sequential interval over time: one call over the days equals a call per day."""
    n = np.array([400.0, 800.0, 1200.0])
    control = ProportionStatistic(n=n, conversions=np.array([40.0, 82.0, 121.0]))
    treatment = ProportionStatistic(n=n, conversions=np.array([48.0, 99.0, 150.0]))
    over_time = sequential_ttest(control, treatment)
    bayes = bayesian_test(control, treatment)
    for day in range(3):
        one = sequential_ttest(
            ProportionStatistic(n=n[day], conversions=control.conversions[day]),
            ProportionStatistic(n=n[day], conversions=treatment.conversions[day]),
        )
        assert isinstance(one.p_value, float)
        assert over_time.ci_low[day] == pytest.approx(one.ci_low)
        assert over_time.p_value[day] == pytest.approx(one.p_value)
    assert bayes.chance_to_win.shape == (3,)
    # The always-valid interval narrows as the sample grows.
    widths = over_time.ci_high - over_time.ci_low
    assert np.all(np.diff(widths) < 0)


def test_mixed_statistic_kinds_are_refused() -> None:
    with pytest.raises(TypeError):
        ttest(ProportionStatistic(n=10, conversions=2), MeanStatistic(n=10, sum=2, sum_squares=2))


# --- Error rates by simulation ---------------------------------------------------------

# A thousand experiments per simulation, all at once through array-valued statistics.
EXPERIMENTS = 1000


def _aa_daily(rng: np.random.Generator, days: int, per_day: int, rate: float) -> np.ndarray:
    """Cumulative conversions, shape (experiments, days, 2 variants), with no true effect."""
    return np.cumsum(rng.binomial(per_day, rate, size=(EXPERIMENTS, days, 2)), axis=1)


def test_fixed_horizon_false_positive_rate_is_alpha() -> None:
    rng = np.random.default_rng(1203)
    n = 5000
    conversions = rng.binomial(n, 0.1, size=(EXPERIMENTS, 2)).astype(float)
    result = ttest(
        ProportionStatistic(n=np.full(EXPERIMENTS, n, dtype=float), conversions=conversions[:, 0]),
        ProportionStatistic(n=np.full(EXPERIMENTS, n, dtype=float), conversions=conversions[:, 1]),
    )
    false_positives = np.mean(result.p_value < 0.05)
    assert 0.035 <= false_positives <= 0.065, false_positives
    # The interval covers the true uplift (0) as often as it says.
    covered = np.mean((result.ci_low <= 0) & (result.ci_high >= 0))
    assert covered == pytest.approx(1 - false_positives)


def test_sequential_test_keeps_alpha_under_daily_peeking() -> None:
    """14 daily looks: the sequential test stays at or below 5%; the fixed one does not."""
    rng = np.random.default_rng(2026)
    days, per_day = 14, 500
    cumulative = _aa_daily(rng, days, per_day, 0.1).astype(float)
    n = np.broadcast_to(per_day * np.arange(1, days + 1, dtype=float), (EXPERIMENTS, days))
    control = ProportionStatistic(n=n, conversions=cumulative[:, :, 0])
    treatment = ProportionStatistic(n=n, conversions=cumulative[:, :, 1])

    sequential_ever = np.mean((sequential_ttest(control, treatment).p_value < 0.05).any(axis=1))
    naive_ever = np.mean((ttest(control, treatment).p_value < 0.05).any(axis=1))

    assert sequential_ever <= 0.05, sequential_ever
    # Peeking at the fixed-horizon test inflates its error well past 5%: the reason the
    # sequential test exists, and proof that this simulation can see the difference.
    assert naive_ever > 0.1, naive_ever


def test_sequential_interval_covers_a_true_effect_at_every_look() -> None:
    """Always valid: over 14 daily looks at a real +10% effect, the confidence sequence
    misses it at some look in at most 5% of experiments, and its p-value falls below 5%
    exactly when its interval excludes zero."""
    rng = np.random.default_rng(314)
    days, per_day, rate, effect = 14, 1000, 0.2, 0.1
    n = np.broadcast_to(per_day * np.arange(1, days + 1, dtype=float), (EXPERIMENTS, days))
    control = ProportionStatistic(
        n=n, conversions=np.cumsum(rng.binomial(per_day, rate, (EXPERIMENTS, days)), axis=1)
    )
    treatment = ProportionStatistic(
        n=n,
        conversions=np.cumsum(rng.binomial(per_day, rate * (1 + effect), (EXPERIMENTS, days)), 1),
    )
    result = sequential_ttest(control, treatment)
    missed = ((result.ci_low > effect) | (result.ci_high < effect)).any(axis=1)
    assert np.mean(missed) <= 0.05, np.mean(missed)
    excludes_zero = (result.ci_low > 0) | (result.ci_high < 0)
    assert np.array_equal(result.p_value < 0.05, excludes_zero)
    assert excludes_zero[:, -1].mean() > 0.5  # and the effect is found in most experiments


# --- SRM and multiple testing --------------------------------------------------------------


def test_srm_flags_a_skewed_split_and_not_a_fair_one() -> None:
    assert srm_check([5000, 5400], [1, 1]).flagged
    assert not srm_check([5000, 5040], [1, 1]).flagged
    assert srm_check([3300, 3500, 3100], [1, 1, 1]).flagged
    assert not srm_check([1980, 8020], [20, 80]).flagged
    assert srm_check([0, 0], [1, 1]).p_value == 1


def test_srm_false_alarms_are_rare_on_fair_splits() -> None:
    rng = np.random.default_rng(5)
    splits = rng.multinomial(9000, [0.5, 0.3, 0.2], size=2000)
    flagged = sum(srm_check(list(s), [5, 3, 2]).flagged for s in splits)
    assert flagged <= 8  # about 2 expected at p < 0.001


def test_holm_bonferroni_on_known_p_values() -> None:
    # Sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 -> 0.06 (monotone).
    assert holm_bonferroni([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_bonferroni([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_bonferroni([0.02]) == pytest.approx([0.02])
    assert holm_bonferroni([]) == ()


def test_holm_controls_the_family_wise_error_across_three_treatments() -> None:
    rng = np.random.default_rng(99)
    p = rng.uniform(size=(4000, 3))  # three true nulls per experiment
    adjusted = np.array([holm_bonferroni(row) for row in p])
    assert np.mean((p < 0.05).any(axis=1)) > 0.12
    assert np.mean((adjusted < 0.05).any(axis=1)) <= 0.055
