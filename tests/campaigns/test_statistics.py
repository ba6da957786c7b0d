"""The experiment statistics core against gbstats's answers, simulation and known values.

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
    BayesianResult,
    CupedStatistic,
    DecisionRule,
    DecisionStatus,
    FrequentistResult,
    GaussianPrior,
    MeanBaseline,
    MeanStatistic,
    ProportionBaseline,
    ProportionStatistic,
    TreatmentEvidence,
    bayesian_test,
    cuped_variance_reduction,
    decide,
    guardrail_hurt,
    holm_bonferroni,
    minimum_detectable_effect,
    power_at,
    sample_size,
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


# --- Simulations -------------------------------------------------------------------------

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


# --- The power calculator -----------------------------------------------------------------


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


# --- The decision rule -------------------------------------------------------------------


def _clear_win() -> TreatmentEvidence:
    control = ProportionStatistic(n=20_000, conversions=2000)
    treatment = ProportionStatistic(n=20_000, conversions=2300)
    return TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )


def _decide(evidence: TreatmentEvidence, **overrides: Any):
    arguments: dict[str, Any] = {
        "control": "a",
        "users": {"a": 20_000, "b": 20_000},
        "treatments": [evidence],
        "runtime_days": 14,
        "srm_p_value": 0.4,
    }
    return decide(**{**arguments, **overrides})


def test_a_clear_win_is_declared_with_its_reasons() -> None:
    decision = _decide(_clear_win())
    assert decision.winner == "b"
    assert decision.status == DecisionStatus.WINNER
    assert any("chance to win" in r and "sequential" in r for r in decision.reasons)


def test_no_winner_while_srm_is_flagged() -> None:
    decision = _decide(_clear_win(), srm_p_value=0.0002)
    assert decision.winner is None
    assert decision.status == "srm"
    assert "Sample ratio mismatch" in decision.reasons[0]


def test_no_winner_while_a_guardrail_is_hurt() -> None:
    # Unsubscribes (lower is better) up from 1% to 1.6% in the treatment.
    unsubscribes = sequential_ttest(
        ProportionStatistic(n=20_000, conversions=200),
        ProportionStatistic(n=20_000, conversions=320),
    )
    assert guardrail_hurt(unsubscribes, lower_is_better=True)
    assert not guardrail_hurt(unsubscribes, lower_is_better=False)
    hurt = TreatmentEvidence(
        key="b",
        bayesian=_clear_win().bayesian,
        sequential=_clear_win().sequential,
        guardrails_hurt=("unsubscribe rate",),
    )
    decision = _decide(hurt)
    assert decision.winner is None
    assert decision.status == DecisionStatus.GUARDRAIL_HURT
    assert "hurts unsubscribe rate" in decision.reasons[0]


def test_no_winner_before_the_minimum_sample_or_runtime() -> None:
    early = _decide(_clear_win(), runtime_days=3)
    small = _decide(
        _clear_win(),
        users={"a": 20_000, "b": 20_000},
        rule=DecisionRule(min_users_per_variant=50_000),
    )
    assert early.winner is None and "fewer than the minimum 7" in early.reasons[0]
    assert early.status == small.status == DecisionStatus.TOO_EARLY
    assert small.winner is None and "Fewer than 50000 learners in a, b" in small.reasons[0]


def test_no_winner_while_the_evidence_is_thin() -> None:
    control = ProportionStatistic(n=2000, conversions=200)
    treatment = ProportionStatistic(n=2000, conversions=215)
    thin = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )
    decision = _decide(thin, users={"a": 2000, "b": 2000})
    assert decision.winner is None
    assert decision.status == DecisionStatus.INCONCLUSIVE
    assert "not yet shown better" in decision.reasons[0]


def _evidence(key: str, chance: float, loss: float, p: float, uplift: float) -> TreatmentEvidence:
    bayes = BayesianResult(
        chance_to_win=chance,
        uplift=uplift,
        ci_low=uplift - 0.05,
        ci_high=uplift + 0.05,
        risk_control=0.0,
        risk_treatment=loss,
        stddev=0.025,
        valid=True,
    )
    seq = FrequentistResult(
        uplift=uplift,
        ci_low=uplift - 0.04,
        ci_high=uplift + 0.04,
        p_value=p,
        stddev=0.02,
        valid=True,
    )
    return TreatmentEvidence(key=key, bayesian=bayes, sequential=seq)


def test_the_sequential_path_is_holm_corrected_across_treatments() -> None:
    users = {"a": 5000, "b": 5000, "c": 5000}
    strict = DecisionRule(min_chance_to_win=0.999)  # only the sequential path can answer
    alone = decide(
        control="a",
        users=users,
        treatments=[_evidence("b", 0.98, 0.001, 0.03, 0.06)],
        runtime_days=10,
        srm_p_value=0.5,
        rule=strict,
    )
    both = decide(
        control="a",
        users=users,
        treatments=[
            _evidence("b", 0.98, 0.001, 0.03, 0.06),
            _evidence("c", 0.97, 0.001, 0.04, 0.05),
        ],
        runtime_days=10,
        srm_p_value=0.5,
        rule=strict,
    )
    assert alone.winner == "b"
    assert both.winner is None  # 0.03 and 0.04 become 0.06 and 0.06 after Holm


def test_the_best_of_several_qualifying_treatments_wins() -> None:
    decision = decide(
        control="a",
        users={"a": 5000, "b": 5000, "c": 5000},
        treatments=[
            _evidence("b", 0.96, 0.001, 0.2, 0.04),
            _evidence("c", 0.99, 0.0005, 0.2, 0.07),
        ],
        runtime_days=10,
        srm_p_value=0.5,
    )
    assert decision.winner == "c"


def test_a_lower_is_better_metric_wins_by_going_down() -> None:
    control = ProportionStatistic(n=20_000, conversions=2300)
    treatment = ProportionStatistic(n=20_000, conversions=2000)
    down = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment, lower_is_better=True),
        sequential=sequential_ttest(control, treatment),
    )
    assert _decide(down, lower_is_better=True).winner == "b"
    wrong_way = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )
    assert _decide(wrong_way).winner is None
