"""Properties that hold for every count, checked on generated experiments (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.statistics import (
    ProportionStatistic,
    bayesian_test,
    holm_bonferroni,
    sequential_ttest,
    srm_check,
    ttest,
)


@st.composite
def binomial_pairs(draw: st.DrawFn) -> tuple[ProportionStatistic, ProportionStatistic]:
    """Control and treatment with at least one conversion and one non-conversion each."""
    n_c = draw(st.integers(min_value=30, max_value=2_000_000))
    n_t = draw(st.integers(min_value=30, max_value=2_000_000))
    c_c = draw(st.integers(min_value=1, max_value=n_c - 1))
    c_t = draw(st.integers(min_value=1, max_value=n_t - 1))
    return ProportionStatistic(n=n_c, conversions=c_c), ProportionStatistic(n=n_t, conversions=c_t)


@given(binomial_pairs())
def test_the_p_value_and_the_interval_tell_the_same_story(pair) -> None:
    for result in (ttest(*pair), sequential_ttest(*pair)):
        assert result.valid
        assert result.ci_low <= result.uplift <= result.ci_high
        assert 0 <= result.p_value <= 1
        excludes_zero = result.ci_low > 0 or result.ci_high < 0
        # Equal up to rounding right at the boundary.
        if abs(result.p_value - 0.05) > 1e-9:
            assert (result.p_value < 0.05) == excludes_zero


@given(binomial_pairs())
def test_the_always_valid_interval_is_wider_than_the_fixed_one(pair) -> None:
    fixed, sequential = ttest(*pair), sequential_ttest(*pair)
    assert sequential.ci_high - sequential.ci_low > fixed.ci_high - fixed.ci_low


@given(binomial_pairs())
def test_the_posterior_is_coherent(pair) -> None:
    result = bayesian_test(*pair)
    flipped = bayesian_test(*pair, lower_is_better=True)
    assert 0 <= result.chance_to_win <= 1
    assert result.chance_to_win + flipped.chance_to_win == pytest.approx(1)
    # E[max(d, 0)] - E[max(-d, 0)] = E[d]: the two risks differ by the expected uplift.
    assert result.risk_control - result.risk_treatment == pytest.approx(
        result.uplift, abs=1e-9, rel=1e-6
    )
    assert min(result.risk_control, result.risk_treatment) >= 0
    assert (result.risk_control, result.risk_treatment) == (
        flipped.risk_treatment,
        flipped.risk_control,
    )


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=8))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values) -> None:
    adjusted = holm_bonferroni(p_values)
    assert all(a >= p and a <= 1 for a, p in zip(adjusted, p_values, strict=True))
    for i in range(len(p_values)):
        for j in range(len(p_values)):
            if p_values[i] < p_values[j]:
                assert adjusted[i] <= adjusted[j]


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=6))
def test_srm_finds_no_mismatch_in_counts_that_match_their_weights(counts) -> None:
    # The counts themselves as weights: observed equals expected exactly.
    if sum(counts) and all(counts):
        assert srm_check(counts, counts).p_value == pytest.approx(1)
