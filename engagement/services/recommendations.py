"""Recommended interventions for scored enrolments: fixed rules over level and signals.

Exactly eight intervention types exist. Each rule below reads the enrolment's risk level and a
few of its signals (those of that course), and gives a reason a staff member can read; an
enrolment gets every type whose rule holds, most urgent first. The rules (evaluated as numpy
masks over all rows at once):

* human_outreach - level critical, or level high and no activity for 14+ days: a person calls.
* discount_offer - level high or critical and at least 30 % of the course done: an invested
  learner slipping away is worth an incentive to finish.
* gentle_reminder - level medium or worse and no activity for 3+ days.
* streak_warning - active on 3+ of the last 7 days but not on the as-of day: the run is about to
  break.
* personalized_content - level medium or worse and struggling with the material: mean quiz score
  below 60 % or mean video completion below 50 % (only where the learner has quizzes/videos).
* peer_comparison - level medium or high and in the bottom 30 % of their cohort by events in the
  last 7 days.
* milestone_celebration - level low or medium and at least half of the course done.
* achievement_notification - level low and activity rising (this week at least 20 % above the
  mean of the three weeks before): reinforce what works.

A never-started enrolment (no activity at all) has no "days inactive" to speak of: its reasons
say how long ago the learner enrolled instead, and the rules about material, streaks and
activity trends do not apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engagement.scoring.signals import SIGNAL_INDEX

INTERVENTION_TYPES: tuple[str, ...] = (
    "human_outreach",
    "discount_offer",
    "gentle_reminder",
    "streak_warning",
    "personalized_content",
    "peer_comparison",
    "milestone_celebration",
    "achievement_notification",
)
INTERVENTION_LABELS: dict[str, str] = {
    "human_outreach": "Human outreach",
    "discount_offer": "Discount offer",
    "gentle_reminder": "Gentle reminder",
    "streak_warning": "Streak warning",
    "personalized_content": "Personalized content",
    "peer_comparison": "Peer comparison",
    "milestone_celebration": "Milestone celebration",
    "achievement_notification": "Achievement notification",
}
LEVEL_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def recommendations_for(
    X: np.ndarray,
    levels: Sequence[str],
    *,
    never_started: np.ndarray | None = None,
    enrolment_age: np.ndarray | None = None,
) -> list[list[dict[str, str]]]:
    """Return, per row of the signal matrix ``X``, the recommended interventions.

    ``never_started`` (bool per row) and ``enrolment_age`` (days) word the reasons of
    enrolments without any activity; see the module docstring.
    """
    n = X.shape[0]
    if n == 0:
        return []
    rank = np.array([LEVEL_RANK[lv] for lv in levels])
    never = np.zeros(n, dtype=bool) if never_started is None else np.asarray(never_started)
    age = np.full(n, np.nan) if enrolment_age is None else np.asarray(enrolment_age, float)
    started = ~never

    def col(name: str) -> np.ndarray:
        return X[:, SIGNAL_INDEX[name]]

    recency = col("recency_days")
    progress = col("progress")
    quiz = col("quiz_mean_score")
    video = col("video_completion_28d")
    rules: list[tuple[str, np.ndarray, str]] = [
        (
            "human_outreach",
            (rank == 3) | ((rank == 2) & (recency >= 14)),
            "Risk is {level} and the learner has been inactive {recency:.0f} days.",
        ),
        (
            "discount_offer",
            (rank >= 2) & (progress >= 0.3),
            "{progress:.0%} of the course is done but risk is {level}.",
        ),
        (
            "gentle_reminder",
            (rank >= 1) & (recency >= 3),
            "No activity for {recency:.0f} days.",
        ),
        (
            "streak_warning",
            started & (col("active_days_7d") >= 3) & (recency >= 1) & (recency < 2),
            "Active {active7:.0f} of the last 7 days but not today: the streak is about to break.",
        ),
        (
            "personalized_content",
            started & (rank >= 1) & (((quiz >= 0) & (quiz < 0.6)) | ((video >= 0) & (video < 0.5))),
            "Struggling with the material (quiz mean {quiz_txt}, video completion {video_txt}).",
        ),
        (
            "peer_comparison",
            started & ((rank == 1) | (rank == 2)) & (col("cohort_pct_events_7d") < 0.3),
            "Less active this week than {pct:.0%} of their cohort.",
        ),
        (
            "milestone_celebration",
            (rank <= 1) & (progress >= 0.5),
            "{progress:.0%} of the course done.",
        ),
        (
            "achievement_notification",
            started & (rank == 0) & (col("trend_ratio_7v21") >= 1.2),
            "Activity is up: this week {trend:.1f}x the weekly mean of the three before.",
        ),
    ]
    # What replaces "inactive N days" for an enrolment that never started.
    not_started = {
        "human_outreach": "Risk is {level} and the learner has not started the course {since}.",
        "gentle_reminder": "Has not started the course {since}.",
    }
    masks = np.stack([mask for _, mask, _ in rules], axis=1)
    out: list[list[dict[str, str]]] = [[] for _ in range(n)]
    rows, which = np.nonzero(masks)
    # Python lists: indexing them costs a fraction of indexing numpy arrays, per reason.
    values = {
        "recency": recency.tolist(),
        "progress": np.maximum(progress, 0.0).tolist(),
        "active7": col("active_days_7d").tolist(),
        "quiz": quiz.tolist(),
        "video": video.tolist(),
        "pct": (1.0 - col("cohort_pct_events_7d")).tolist(),
        "trend": col("trend_ratio_7v21").tolist(),
    }
    never_list, age_list = never.tolist(), age.tolist()
    for i, j in zip(rows.tolist(), which.tolist(), strict=True):
        kind, _, template = rules[j]
        fields: dict[str, Any] = {"level": levels[i]}
        if never_list[i] and kind in not_started:
            template = not_started[kind]
            fields["since"] = _since_enrolling(age_list[i])
        if "{quiz_txt}" in template:
            q, v = values["quiz"][i], values["video"][i]
            fields["quiz_txt"] = f"{q:.0%}" if q >= 0 else "n/a"
            fields["video_txt"] = f"{v:.0%}" if v >= 0 else "n/a"
        for name in ("recency", "progress", "active7", "pct", "trend"):
            if "{" + name in template:
                fields[name] = values[name][i]
        reason = template.format(**fields)
        out[i].append({"code": kind, "label": INTERVENTION_LABELS[kind], "reason": reason})
    return out


def _since_enrolling(days: float) -> str:
    """Words for how long ago a learner enrolled: "since enrolling 12 days ago"."""
    if not np.isfinite(days):
        return "yet"
    if days < 1:
        return "since enrolling today"
    return f"since enrolling {days:.0f} day{'' if round(days) == 1 else 's'} ago"
