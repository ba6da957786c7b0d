"""The star-performer numbers on generated data: the score, the segments, and the factors found
where a difference was planted (with scipy's and statsmodels' statistics), none where not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics import performance
from analytics.services.performers import SENTINEL_SIGNALS
from analytics.services.significance import compare_groups, significant
from engagement.scoring.signals import SIGNAL_NAMES

N = 400


def population(seed: int, *, plant: float) -> dict[str, np.ndarray]:
    """Every signal as independent noise, the component signals spread from weak to strong
    learners, and `video_28d` raised by `plant` x the learner's strength (0 = no plant)."""
    rng = np.random.default_rng(seed)
    strength = rng.uniform(0, 1, N)
    cols = {name: rng.normal(5.0, 2.0, N) for name in SIGNAL_NAMES}
    cols["progress"] = np.clip(strength + rng.normal(0, 0.05, N), 0, 1)
    cols["quiz_mean_score"] = np.where(rng.random(N) < 0.2, -1.0, np.clip(strength, 0, 1))
    cols["active_weeks_4w"] = np.round(4 * strength)
    cols["active_days_28d"] = np.round(14 * strength)
    cols["recency_days"] = np.round(30 * (1 - strength))
    cols["lesson_completion_ratio_28d"] = np.clip(strength, 0, 1)
    cols["video_28d"] = rng.poisson(1 + plant * strength, N).astype(float)
    return cols


def test_the_score_is_the_documented_weighted_mean_of_the_components():
    cols = {
        "progress": np.array([1.0, 0.5, -1.0]),
        "quiz_mean_score": np.array([0.8, -1.0, -1.0]),
        "active_weeks_4w": np.array([4.0, 2.0, 0.0]),
        "active_days_28d": np.array([20.0, 6.0, 0.0]),
        "recency_days": np.array([0.0, 14.0, 60.0]),
        "lesson_completion_ratio_28d": np.array([1.0, 0.5, -1.0]),
    }
    parts = performance.components(cols)
    scores = performance.composite_score(parts)
    # All five: 0.3*1 + 0.2*0.8 + 0.2*1 + 0.15*1 + 0.15*1.
    assert scores[0] == pytest.approx(100 * 0.96)
    # No quiz: its 20% is shared out over the other four (weights / 0.8).
    expected = (0.3 * 0.5 + 0.2 * 0.5 + 0.15 * 0.5 + 0.15 * 0.5) / 0.8
    assert scores[1] == pytest.approx(100 * expected)
    # Never active, no lessons: consistency and recency only, both 0.
    assert scores[2] == 0.0
    assert np.isnan(parts["quiz"][1]) and np.isnan(parts["progress"][2])


@pytest.mark.parametrize(("n", "k"), [(5, 0), (10, 1), (14, 1), (15, 2), (100, 10), (401, 40)])
def test_the_segments_are_ten_percent_each_way(n, k):
    scores = np.linspace(0, 100, n)[::-1]
    seg = performance.segment(scores, np.arange(n))
    assert seg.star_count == seg.lagging_count == k
    assert seg.segments.count("star") == seg.segments.count("lagging") == k
    if k:
        assert seg.star_threshold == pytest.approx(scores[k - 1])
        assert seg.lagging_threshold == pytest.approx(scores[n - k])
        assert seg.segments[:k] == ["star"] * k and seg.ranks[0] == 1


def test_ties_do_not_swell_a_segment():
    # 30 never-started learners all at 0: still 4 lagging out of 40, the smallest ids kept out.
    scores = np.r_[np.linspace(10, 90, 10), np.zeros(30)]
    seg = performance.segment(scores, np.arange(40))
    assert seg.segments.count("lagging") == 4
    assert [i for i, s in enumerate(seg.segments) if s == "lagging"] == [36, 37, 38, 39]
    assert seg.lagging_threshold == 0.0


def test_a_planted_difference_is_found_with_scipys_statistics():
    cols = population(1, plant=6.0)
    scores = performance.composite_score(performance.components(cols))
    seg = performance.segment(scores, np.arange(N))
    star, lagging = performance.factor_groups(cols, seg.segments, sentinel=SENTINEL_SIGNALS)
    assert not set(performance.COMPONENT_SIGNALS) & set(star)
    comparisons = compare_groups(star, lagging)
    found = significant(comparisons)
    assert [c.signal for c in found] == ["video_28d"]
    video = found[0]
    a, b = star["video_28d"], lagging["video_28d"]
    assert video.n_a == len(a) == 40 and video.n_b == len(b) == 40
    assert video.mean_a == pytest.approx(a.mean()) and video.mean_a > video.mean_b + 3
    assert video.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / 78)
    assert video.cohen_d == pytest.approx((a.mean() - b.mean()) / pooled)
    assert video.d_low < video.cohen_d < video.d_high
    raw = [c.p_value for c in sorted(comparisons, key=lambda c: c.signal)]
    holm = multipletests(raw, method="holm")[1]
    by_signal = dict(zip(sorted(c.signal for c in comparisons), holm, strict=True))
    assert all(c.p_value_holm == pytest.approx(by_signal[c.signal]) for c in comparisons)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_nothing_is_found_where_nothing_was_planted(seed):
    cols = population(seed, plant=0.0)
    scores = performance.composite_score(performance.components(cols))
    seg = performance.segment(scores, np.arange(N))
    star, lagging = performance.factor_groups(cols, seg.segments, sentinel=SENTINEL_SIGNALS)
    comparisons = compare_groups(star, lagging)
    assert len(comparisons) > 60
    assert significant(comparisons) == []


def test_missing_sentinels_stay_out_of_the_means_but_a_trend_of_minus_one_counts():
    segments = ["star", "star", "star", "lagging", "lagging", "lagging"]
    cols = {
        "quiz_last_score": np.array([0.9, -1.0, 0.7, -1.0, 0.2, 0.4]),
        "active_days_trend_7v21": np.array([-1.0, 1.0, 2.0, -1.0, -1.0, 0.0]),
    }
    star, lagging = performance.factor_groups(cols, segments, sentinel=SENTINEL_SIGNALS)
    assert star["quiz_last_score"].tolist() == [0.9, 0.7]
    assert lagging["active_days_trend_7v21"].tolist() == [-1.0, -1.0, 0.0]


def test_group_means_ignore_undefined_values():
    keys, means = performance.group_means(
        np.array([[1.0, np.nan], [3.0, 4.0], [5.0, np.nan]]), np.array([7, 7, 9])
    )
    assert keys.tolist() == [7, 9]
    assert means[0].tolist() == [2.0, 4.0]
    assert means[1, 0] == 5.0 and np.isnan(means[1, 1])
