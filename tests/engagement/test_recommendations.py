"""The eight intervention rules, on hand-made signal rows (no database needed)."""

import numpy as np

from engagement.scoring.signals import SIGNAL_INDEX, SIGNAL_NAMES
from engagement.services.recommendations import (
    INTERVENTION_LABELS,
    INTERVENTION_TYPES,
    recommendations_for,
)


def row(**values: float) -> np.ndarray:
    """A learner's signals: neutral defaults (-1 = no quizzes/videos) with the given values."""
    x = np.zeros(len(SIGNAL_NAMES))
    x[SIGNAL_INDEX["quiz_mean_score"]] = -1
    x[SIGNAL_INDEX["video_completion_28d"]] = -1
    x[SIGNAL_INDEX["cohort_pct_events_7d"]] = 0.5
    for name, value in values.items():
        x[SIGNAL_INDEX[name]] = value
    return x


def codes(x: np.ndarray, level: str) -> list[str]:
    return [r["code"] for r in recommendations_for(x[None, :], [level])[0]]


def test_every_type_has_a_label_and_there_are_eight():
    assert len(INTERVENTION_TYPES) == 8
    assert set(INTERVENTION_LABELS) == set(INTERVENTION_TYPES)


def test_critical_learner_gone_two_weeks_gets_a_human_and_a_reminder_first():
    recs = recommendations_for(row(recency_days=16, progress=0.4)[None, :], ["critical"])[0]

    assert [r["code"] for r in recs][:3] == ["human_outreach", "discount_offer", "gentle_reminder"]
    assert recs[0]["label"] == "Human outreach"
    assert "inactive 16 days" in recs[0]["reason"]
    assert "40% of the course" in recs[1]["reason"]


def test_high_risk_but_recently_active_is_not_escalated_to_a_human():
    assert "human_outreach" not in codes(row(recency_days=2), "high")


def test_struggling_medium_learner_gets_personalized_content():
    recs = codes(row(recency_days=1, quiz_mean_score=0.45, video_completion_28d=0.9), "medium")
    assert "personalized_content" in recs
    # Without quizzes or videos there is nothing to say about the material.
    assert "personalized_content" not in codes(row(recency_days=1), "medium")


def test_streak_warning_when_active_most_days_but_not_today():
    assert "streak_warning" in codes(row(active_days_7d=4, recency_days=1), "low")
    assert "streak_warning" not in codes(row(active_days_7d=4, recency_days=0), "low")


def test_low_risk_learner_with_progress_is_celebrated_not_chased():
    recs = codes(row(progress=0.6, trend_ratio_7v21=1.5), "low")
    assert recs == ["milestone_celebration", "achievement_notification"]


def test_laggard_in_cohort_gets_peer_comparison():
    assert "peer_comparison" in codes(row(recency_days=1, cohort_pct_events_7d=0.1), "medium")
    assert "peer_comparison" not in codes(row(recency_days=1, cohort_pct_events_7d=0.8), "medium")


def test_a_never_started_enrolment_is_told_apart_from_a_lapsed_one():
    x = row(recency_days=365, cohort_pct_events_7d=0.05)[None, :]
    recs = recommendations_for(
        x, ["critical"], never_started=np.array([True]), enrolment_age=np.array([23.0])
    )[0]

    assert [r["code"] for r in recs] == ["human_outreach", "gentle_reminder"]
    assert recs[0]["reason"] == (
        "Risk is critical and the learner has not started the course since enrolling 23 days ago."
    )
    assert recs[1]["reason"] == "Has not started the course since enrolling 23 days ago."
    assert "365" not in " ".join(r["reason"] for r in recs)
    # Enrolled today: no "0 days ago".
    today = recommendations_for(
        x, ["high"], never_started=np.array([True]), enrolment_age=np.array([0.0])
    )[0]
    assert today[-1]["reason"] == "Has not started the course since enrolling today."
    # Peer comparison needs activity to compare: not for someone who has none.
    assert "peer_comparison" not in [r["code"] for r in today]
