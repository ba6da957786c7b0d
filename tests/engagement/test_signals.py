"""Signals checked against values computed by hand on a tiny three-learner timeline."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest

from engagement.scoring.activity import KINDS, LearnerActivity
from engagement.scoring.labels import dropped_off
from engagement.scoring.signals import (
    MISSING,
    MODEL_SCOPE,
    RECENCY_CAP_DAYS,
    SIGNAL_INDEX,
    SIGNAL_NAMES,
    SIGNALS,
    compute_signals,
    signal_sentence,
)

AS_OF = datetime.date(2025, 3, 2)  # a Sunday
K = {kind: i for i, kind in enumerate(KINDS)}

# Learner 0: events on day indices 12 (5), 13 (1), 20 (3), 26 (2), 27 = as_of (4); all Sat/Sun.
L0_EVENTS = {12: 5, 13: 1, 20: 3, 26: 2, 27: 4}
# Learner 1: 2 events on each of days 0-6 (first week after first sight), then silence.
# Learner 2: nothing at all.


def timeline(window: int = 28) -> LearnerActivity:
    """Return the three-learner timeline, padded with empty days at the start to ``window``."""
    pad = window - 28
    a = LearnerActivity.empty(3, as_of=AS_OF, window_days=window)
    for day, count in L0_EVENTS.items():
        a.daily[0, pad + day, K["events"]] = count
    a.daily[1, pad : pad + 7, K["events"]] = 2
    a.daily[0, pad + 26, K["sessions"]] = 2
    a.session_seconds[0, pad + 26] = 600
    a.daily[0, pad + 27, K["sessions"]] = 1
    a.session_seconds[0, pad + 27] = 1200
    a.daily[0, pad + 12, K["sessions"]] = 1
    a.session_seconds[0, pad + 12] = 300
    a.quiz_score_sum[0, pad + 12], a.quiz_score_n[0, pad + 12] = 0.5, 1
    a.quiz_score_sum[0, pad + 26], a.quiz_score_n[0, pad + 26] = 1.8, 2
    a.daily[0, pad + 26, K["quizzes"]] = 2
    a.daily[0, pad + 26, K["quizzes_passed"]] = 1
    a.hour_hist[0, 9] = 15
    a.hour_hist[1, [8, 20]] = 7
    a.days_since_first[:2] = [40, 27]
    a.days_since_last[:2] = [0, 21]
    a.enrolment_age[:2] = [45, 27]
    a.progress[0] = 0.4
    a.course_days_left[0] = 30
    a.cohort[:] = [1, 1, 2]
    return a


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    X = compute_signals(timeline())
    return {name: X[:, j] for j, name in enumerate(SIGNAL_NAMES)}


def test_catalogue_is_large_unique_and_documented() -> None:
    assert len(SIGNALS) == 77
    assert len(set(SIGNAL_NAMES)) == len(SIGNAL_NAMES)
    assert all(sig.description and sig.unit and sig.text for sig in SIGNALS)


def test_recency_and_windows(signals: dict[str, np.ndarray]) -> None:
    assert signals["recency_days"].tolist() == [0, 21, RECENCY_CAP_DAYS]
    assert signals["active_days_3d"].tolist() == [2, 0, 0]
    assert signals["active_days_7d"].tolist() == [2, 0, 0]
    assert signals["active_days_14d"].tolist() == [3, 0, 0]
    assert signals["active_days_28d"].tolist() == [5, 7, 0]
    assert signals["events_3d"].tolist() == [6, 0, 0]
    assert signals["events_14d"].tolist() == [9, 0, 0]
    assert signals["events_28d"].tolist() == [15, 14, 0]
    assert signals["sessions_7d"].tolist() == [3, 0, 0]
    assert signals["sessions_28d"].tolist() == [4, 0, 0]


def test_trends(signals: dict[str, np.ndarray]) -> None:
    # Weekly events, oldest first: L0 [0, 6, 3, 6], L1 [14, 0, 0, 0].
    assert signals["trend_ratio_7v21"][0] == pytest.approx(7 / 4)
    assert signals["trend_ratio_7v21"][1] == pytest.approx(1 / (14 / 3 + 1))
    assert signals["trend_ratio_7v21"][2] == pytest.approx(1.0)
    assert signals["trend_slope_4w"][0] == pytest.approx((-0.5 * 6 + 0.5 * 3 + 1.5 * 6) / 5)
    assert signals["trend_slope_4w"][1] == pytest.approx(-1.5 * 14 / 5)
    assert signals["active_days_trend_7v21"][0] == pytest.approx(2 - 1)
    assert signals["decline_ratio_3v11"][0] == pytest.approx((6 / 3 + 0.5) / (3 / 11 + 0.5))


def test_gaps_and_streaks(signals: dict[str, np.ndarray]) -> None:
    assert signals["longest_gap_days"].tolist() == [6, 21, 28]
    assert signals["current_gap_days"].tolist() == [0, 21, 28]
    assert signals["mean_gap_days"].tolist() == [pytest.approx(15 / 4), 1, 28]
    assert signals["current_streak_days"].tolist() == [2, 0, 0]
    assert signals["longest_streak_days"].tolist() == [2, 7, 0]
    assert signals["active_weeks_4w"].tolist() == [3, 1, 0]


def test_regularity(signals: dict[str, np.ndarray]) -> None:
    # L0 is active only at weekends: 8 events on Sundays, 7 on Saturdays.
    p = np.array([8 / 15, 7 / 15])
    assert signals["weekend_share_28d"][0] == pytest.approx(1.0)
    assert signals["top_weekday_share_28d"][0] == pytest.approx(8 / 15)
    assert signals["weekday_entropy_28d"][0] == pytest.approx(-(p * np.log(p)).sum() / math.log(7))
    # L1 covers every weekday equally.
    assert signals["weekday_entropy_28d"][1] == pytest.approx(1.0)
    assert signals["weekend_share_28d"][1] == pytest.approx(2 / 7)
    assert signals["hour_entropy"][0] == 0.0
    assert signals["hour_entropy"][1] == pytest.approx(math.log(2) / math.log(24))


def test_quiz_and_sessions(signals: dict[str, np.ndarray]) -> None:
    assert signals["quiz_mean_score"][0] == pytest.approx(2.3 / 3)
    assert signals["quiz_last_score"][0] == pytest.approx(0.9)
    assert signals["quiz_score_trend"][0] == pytest.approx(0.9 - 0.5)
    assert signals["quiz_scored_28d"][0] == 3
    assert signals["quiz_pass_rate_28d"][0] == pytest.approx(0.5)
    assert signals["quiz_mean_score"][1] == MISSING
    assert signals["quiz_score_trend"][1] == 0.0
    assert signals["session_seconds_7d"][0] == 1800
    assert signals["session_mean_seconds_28d"][0] == pytest.approx(2100 / 4)
    assert signals["session_median_seconds_28d"][0] == pytest.approx(300)  # of 300, 300, 1200


def test_lifecycle(signals: dict[str, np.ndarray]) -> None:
    assert signals["first_week_events"].tolist() == [MISSING, 14, MISSING]  # L0 seen pre-window
    assert signals["first_week_active_days"][1] == 7
    assert signals["activity_density_28d"][1] == pytest.approx(7 / 28)
    assert signals["days_since_first"].tolist() == [40, 27, 0]
    assert signals["enrolment_age_days"].tolist() == [45, 27, MISSING]
    assert signals["progress"].tolist() == [pytest.approx(0.4), MISSING, MISSING]
    assert signals["course_days_left"].tolist() == [30, 365, 365]
    assert signals["is_self_paced"].tolist() == [0, 1, 1]
    assert signals["events_per_active_day_28d"][0] == pytest.approx(3.0)
    assert signals["custom_share_28d"][0] == pytest.approx((15 - 4 - 2) / 15)


def test_cohort_percentiles(signals: dict[str, np.ndarray]) -> None:
    assert signals["cohort_pct_events_7d"].tolist() == [0.75, 0.25, 0.5]  # L2 alone in cohort 2
    assert signals["cohort_pct_recency"].tolist() == [0.25, 0.75, 0.5]


def test_cohort_percentile_ties_share_a_mid_rank() -> None:
    a = LearnerActivity.empty(5, as_of=AS_OF, window_days=28)
    for i, count in enumerate([0, 0, 3, 5, 9]):
        a.daily[i, 27, K["events"]] = count
    a.cohort[:] = [4, 4, 4, 4, 7]
    pct = compute_signals(a)[:, SIGNAL_INDEX["cohort_pct_events_7d"]]
    assert pct.tolist() == [0.25, 0.25, 0.625, 0.875, 0.5]


def test_learner_with_nothing_is_finite_and_signals_ignore_padding() -> None:
    short = compute_signals(timeline(28))
    long = compute_signals(timeline(56))
    assert np.isfinite(long).all() and np.isfinite(short).all()
    for name in (
        "recency_days",
        "events_28d",
        "trend_ratio_7v21",
        "quiz_last_score",
        "cohort_pct_events_28d",
        "longest_streak_days",
    ):
        j = SIGNAL_INDEX[name]
        assert long[:, j].tolist() == pytest.approx(short[:, j].tolist()), name
    assert long[2, SIGNAL_INDEX["longest_gap_days"]] == 56
    # L0 was first seen 40 days ago: outside a 28-day window, inside a 56-day one (empty days).
    assert long[0, SIGNAL_INDEX["first_week_events"]] == 0


def test_no_learners() -> None:
    X = compute_signals(LearnerActivity.empty(0, as_of=AS_OF))
    assert X.shape == (0, len(SIGNALS))


def test_rejects_short_window() -> None:
    with pytest.raises(ValueError):
        LearnerActivity.empty(1, as_of=AS_OF, window_days=14)


def test_dropped_off_label() -> None:
    after = np.array([[0, 0, 0], [0, 1, 0], [2, 0, 0]])
    withdrew = np.array([False, False, True])
    assert dropped_off(after, withdrew).tolist() == [1, 0, 1]


def test_a_never_started_enrolment_is_silent_since_it_began() -> None:
    a = LearnerActivity.empty(3, as_of=AS_OF, window_days=28)
    a.enrolment_age[:] = [21, 2, 30]
    a.daily[2, 27, K["events"]] = 1  # the third has started: active today
    a.days_since_first[2], a.days_since_last[2] = 0, 0
    X = compute_signals(a)
    recency = X[:, SIGNAL_INDEX["recency_days"]]
    assert recency.tolist() == [21, 2, 0]  # three weeks since enrolling reads as three weeks gone
    assert X[:, SIGNAL_INDEX["never_started"]].tolist() == [1, 1, 0]


def test_known_directions_are_declared_where_a_person_knows_them() -> None:
    by_name = {sig.name: sig.direction for sig in SIGNALS}
    assert set(by_name.values()) <= {-1, 0, 1}
    assert by_name["recency_days"] == by_name["current_gap_days"] == 1  # longer gone, riskier
    for name in ("active_days_3d", "active_days_28d", "events_7d", "active_weeks_4w"):
        assert by_name[name] == -1, name
    # A sentinel (MISSING = no quiz, no lessons) is not "worse than 0 %": no direction.
    for name in ("quiz_mean_score", "progress", "first_week_events", "lesson_completion_ratio_28d"):
        assert by_name[name] == 0, name


def test_every_signal_reads_as_a_sentence_not_a_signal_name() -> None:
    for sig in SIGNALS:
        for value in (0.0, 1.0, 3.0, 12.5, MISSING):
            text = signal_sentence(sig.name, value, row={"enrolment_age_days": 9}, typical=2.0)
            assert text and not text[0].islower(), (sig.name, value, text)
            # No snake_case signal name, no unfilled placeholder.
            assert "_" not in text and "{" not in text and "?" not in text, (sig.name, text)


def test_driver_sentences_say_the_value_and_the_course_context() -> None:
    assert (
        signal_sentence("recency_days", 12, typical=3)
        == "No activity for 12 days (the course's typical gap is 3 days)"
    )
    assert signal_sentence("recency_days", 1, typical=1) == (
        "No activity for 1 day (the course's typical gap is 1 day)"
    )
    assert signal_sentence("active_weeks_4w", 0, typical=3) == (
        "No activity in any of the last 4 weeks (the course's typical learner: 3)"
    )
    assert signal_sentence("active_days_14d", 2, typical=6, scope=MODEL_SCOPE) == (
        "Active on 2 of the last 14 days (a typical learner: 6)"
    )
    assert signal_sentence("quiz_mean_score", MISSING, typical=0.7) == "No scored quiz yet"
    assert signal_sentence("quiz_mean_score", 0.45, typical=0.7) == (
        "Quiz scores average 45% (the course's typical learner: 70%)"
    )
    assert signal_sentence("never_started", 1, row={"enrolment_age_days": 21}) == (
        "Not started yet, 21 days after enrolling"
    )
    assert signal_sentence("session_seconds_7d", 5400, typical=1800) == (
        "1 h 30 min of study in the last 7 days (the course's typical learner: 30 min)"
    )
