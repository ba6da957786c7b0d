"""The shared two-group statistics against scipy and statsmodels on generated data: planted
differences are found, and none are found where none were planted."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.services.significance import cohen_d, compare_groups, holm, proportion, significant


def _groups(rng, planted: dict[str, float], signals: int = 20, n: int = 300):
    a, b = {}, {}
    for i in range(signals):
        name = f"s{i:02d}"
        a[name] = rng.normal(planted.get(name, 0.0), 1.0, n)
        b[name] = rng.normal(0.0, 1.0, n)
    return a, b


def test_planted_differences_are_found_and_match_scipy():
    rng = np.random.default_rng(7)
    a, b = _groups(rng, {"s03": 0.8, "s11": -0.5})
    comparisons = compare_groups(a, b)
    found = {c.signal for c in significant(comparisons)}
    assert found == {"s03", "s11"}

    by_signal = {c.signal: c for c in comparisons}
    s03 = by_signal["s03"]
    assert s03.p_value == pytest.approx(stats.ttest_ind(a["s03"], b["s03"], equal_var=False).pvalue)
    names = sorted(a)
    raw = [stats.ttest_ind(a[s], b[s], equal_var=False).pvalue for s in names]
    holm = dict(zip(names, multipletests(raw, method="holm")[1], strict=True))
    for c in comparisons:
        assert c.p_value_holm == pytest.approx(holm[c.signal])
    pooled = math.sqrt((a["s03"].var(ddof=1) + b["s03"].var(ddof=1)) / 2)
    assert s03.cohen_d == pytest.approx((a["s03"].mean() - b["s03"].mean()) / pooled)
    assert s03.d_low < 0.8 < s03.d_high
    assert by_signal["s11"].cohen_d < 0
    # Largest effect first.
    assert comparisons[0].signal == "s03"


def test_nothing_is_found_where_nothing_was_planted():
    rng = np.random.default_rng(11)
    a, b = _groups(rng, {}, signals=76)
    assert significant(compare_groups(a, b)) == []


def test_a_trivial_difference_is_not_presented_even_when_significant():
    rng = np.random.default_rng(3)
    a = {"x": rng.normal(0.1, 1.0, 20000)}
    b = {"x": rng.normal(0.0, 1.0, 20000)}
    (c,) = compare_groups(a, b)
    assert c.p_value_holm < 0.05
    assert c.effect_size == "negligible"
    assert significant([c]) == []


def test_degenerate_signals_are_skipped_or_certain():
    out = compare_groups(
        {"same": [1, 1, 1], "tiny": [1.0], "apart": [2, 2, 2]},
        {"same": [1, 1, 1], "tiny": [1.0, 2.0], "apart": [0, 0, 0]},
    )
    assert [c.signal for c in out] == ["apart"]
    assert out[0].cohen_d == math.inf and out[0].significant
    assert cohen_d(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == (0.0, 0.0, 0.0)


def test_proportion_has_a_wilson_interval():
    p = proportion(30, 100)
    assert p.rate == 0.3
    assert p.low == pytest.approx(0.2189, abs=1e-3) and p.high == pytest.approx(0.3958, abs=1e-3)
    assert proportion(0, 0).rate == 0.0


def test_holm_gives_statsmodels_values_with_ties_and_caps():
    rng = np.random.default_rng(3)
    for p in ([0.01, 0.04, 0.04, 0.03, 0.9], [0.5], rng.uniform(0, 0.2, 40).tolist()):
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert holm([0.3, 0.4, 0.5]) == pytest.approx([0.9, 0.9, 0.9])  # non-decreasing
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # capped
