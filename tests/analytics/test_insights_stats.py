"""The weekly insights' statistics and grounding check, as pure functions: planted movements
are found with scipy's own p-values, none where none were planted; a text with an invented
figure is rejected and one with only input figures accepted."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.services.grounding import number_grounded, numbers_in, ungrounded
from analytics.services.weekly_stats import learner_moves, rank_correlations, week_movements


def _weeks(rng, planted: dict[str, float], metrics: int = 6):
    last, this = {}, {}
    for i in range(metrics):
        name = f"m{i}"
        last[name] = list(rng.normal(100, 5, 7))
        this[name] = list(rng.normal(100 + planted.get(name, 0.0), 5, 7))
    return this, last


def test_a_planted_week_over_week_jump_is_found_with_scipys_p_value():
    rng = np.random.default_rng(11)
    this, last = _weeks(rng, {"m2": 30.0})
    movements = week_movements(this, last, levels=frozenset({"m2"}))
    assert [m.metric for m in movements if m.significant] == ["m2"]

    m2 = next(m for m in movements if m.metric == "m2")
    assert m2.p_value == pytest.approx(
        stats.ttest_ind(this["m2"], last["m2"], equal_var=False).pvalue
    )
    raw = [stats.ttest_ind(this[k], last[k], equal_var=False).pvalue for k in sorted(this)]
    holm = dict(zip(sorted(this), multipletests(raw, method="holm")[1], strict=True))
    for m in movements:
        assert m.p_value_holm == pytest.approx(holm[m.metric])
    # A level metric is summarised by its daily mean, a count by its weekly total.
    assert m2.this_week == pytest.approx(np.mean(this["m2"]))
    m0 = next(m for m in movements if m.metric == "m0")
    assert m0.this_week == pytest.approx(sum(this["m0"]))
    assert m2.change_pct == pytest.approx((np.mean(this["m2"]) / np.mean(last["m2"]) - 1) * 100)


def test_no_movement_is_found_where_none_was_planted():
    weeks_with_a_finding = 0
    for seed in range(60):
        this, last = _weeks(np.random.default_rng(seed), {})
        weeks_with_a_finding += any(m.significant for m in week_movements(this, last))
    # Holm keeps the family's false alarms to about 5% of the weeks (3 of these 60).
    assert weeks_with_a_finding <= 6


def test_a_constant_metric_has_nothing_to_test_and_a_zero_week_no_percentage():
    movements = week_movements({"a": [0.0] * 7, "b": [3.0] * 7}, {"a": [0.0] * 7, "b": [0.0] * 7})
    a, b = movements
    assert (a.p_value, a.significant, a.change_pct) == (1.0, False, None)
    assert b.this_week == 21 and b.change_pct is None


def test_rank_correlations_match_scipy_and_only_the_planted_one_is_strong():
    rng = np.random.default_rng(3)
    n = 400
    risk = rng.uniform(0, 100, n)
    signals = {f"s{i}": list(rng.normal(0, 1, n)) for i in range(8)}
    signals["inactive_days"] = list(-0.05 * risk + rng.normal(0, 1, n))
    signals["inactive_days"][0] = None  # undefined values are dropped pairwise
    out = rank_correlations(signals, risk)
    strong = [c for c in out if c.significant]
    assert [c.signal for c in strong] == ["inactive_days"]
    x = np.asarray(signals["inactive_days"][1:], dtype=float)
    expected = stats.spearmanr(x, risk[1:])
    assert strong[0].rho == pytest.approx(expected.statistic)
    assert strong[0].p_value == pytest.approx(expected.pvalue)
    assert strong[0].n == n - 1


def test_learner_moves_count_ranks_and_the_sign_test():
    moves = learner_moves([5, -2, -7, 0, -1, -3, 4, -9, -2, -4, -6, -1])
    assert (moves.learners, moves.rising, moves.declining) == (12, 2, 9)
    assert moves.top_rises == [5, 4] and moves.top_falls == [9, 7, 6]
    assert moves.p_value == pytest.approx(stats.binomtest(9, 11, 0.5).pvalue)


FIGURES = [1234.0, 0.1234, -12.5, 0.0031, 42.0]


@pytest.mark.parametrize(
    "token",
    ["1,234", "1234", "0.12", "0.1234", "12.3%", "-12.5", "12.5", "12.5%", "0.0031", "0.31%", "42"],
)
def test_numbers_as_given_rounded_or_as_percent_are_grounded(token):
    assert number_grounded(token, FIGURES)


@pytest.mark.parametrize("token", ["1,235", "0.13", "14%", "-42", "43", "11", "7", "0.4%"])
def test_other_numbers_are_not(token):
    assert not number_grounded(token, FIGURES)


def test_the_check_rejects_an_invented_figure_and_accepts_only_input_figures():
    figures = [812.0, 640.0, 26.9, 0.0004]
    clean = [
        "Daily active learners rose 26.9% week on week",
        "812 learners a day against 640 (p = 0.0004), week of 2026-11-23.",
    ]
    assert ungrounded(clean, figures, ["2026-11-23"]) == []
    invented = ["Daily active learners rose 26.9%", "That is 3 times last year's 2,400 learners."]
    assert ungrounded(invented, figures, ["2026-11-23"]) == ["3", "2,400"]
    assert ungrounded(["Since 2026-10-01 it rose 26.9%"], figures, ["2026-11-23"]) == ["2026-10-01"]


def test_numbers_inside_words_are_not_figures():
    dates, found = numbers_in("The trend_ratio_7v21 signal, 5% of them, on 2026-11-30.")
    assert dates == ["2026-11-30"] and found == ["5%"]


def test_the_built_in_writers_text_is_grounded_for_every_kind():
    import datetime

    from analytics.services.findings import Finding, WeekFindings
    from analytics.services.insight_writer import (
        allowed_dates,
        allowed_figures,
        deterministic_write,
        texts_of,
    )

    def finding(kind: str, key: str, p: float | None, **figures: float) -> Finding:
        return Finding(key, kind, f"{kind} title", "Algebra 2", figures, p, True, "/", "down")

    week = WeekFindings(
        datetime.date(2026, 11, 23),
        [
            finding(
                "metric",
                "metric:dau",
                0.029732,
                this_week=16.1,
                last_week=10.1,
                change_pct=59.2,
                cohen_d=2.1,
                p_value=0.0297,
            ),
            finding(
                "course",
                "course:a",
                0.00001,
                this_week=3,
                last_week=9,
                change_pct=-66.7,
                p_value=0.0,
            ),
            finding(
                "learners",
                "learners:moves",
                0.2,
                learners=163,
                rising=53,
                declining=109,
                top_fall_events=78,
                p_value=0.2,
            ),
            finding("anomaly", "anomaly:x", None, value=25, baseline=9, score=4.0),
            finding(
                "correlation", "correlation:y", 0.001, rho=-0.77, enrollments=288, p_value=0.001
            ),
            finding(
                "intervention",
                "intervention:z",
                0.04,
                uplift_pct=12.5,
                ci_low_pct=0.4,
                ci_high_pct=24.6,
                p_value=0.04,
                contacted=700,
                held_out=300,
            ),
        ],
    )
    written = deterministic_write(week)
    texts = texts_of(written)
    assert ungrounded(texts, allowed_figures(week), allowed_dates(week)) == []
    assert "p = 0.0297" in written.insights[0].body and "p < 0.0001" in written.insights[1].body
