"""Which finder answers for which alert rule code, in the order rules are evaluated."""

from __future__ import annotations

from collections.abc import Sequence

from engagement.selectors.alerts.candidate import CandidateFinder
from engagement.selectors.alerts.habits import (
    streak_at_risk_candidates,
    weak_first_week_candidates,
)
from engagement.selectors.alerts.risk import critical_risk_candidates, risk_rising_candidates
from engagement.selectors.alerts.silence import (
    inactive_14_days_candidates,
    no_login_7_days_candidates,
)
from engagement.selectors.alerts.study import (
    abandoned_videos_candidates,
    low_quiz_scores_candidates,
    missed_live_sessions_candidates,
)

CANDIDATE_FINDERS: dict[str, CandidateFinder] = {
    "critical_risk": critical_risk_candidates,
    "inactive_14_days": inactive_14_days_candidates,
    "no_login_7_days": no_login_7_days_candidates,
    "low_quiz_scores": low_quiz_scores_candidates,
    "weak_first_week": weak_first_week_candidates,
    "risk_rising": risk_rising_candidates,
    "streak_at_risk": streak_at_risk_candidates,
    "abandoned_videos": abandoned_videos_candidates,
    "missed_live_sessions": missed_live_sessions_candidates,
}


def alert_rule_codes() -> Sequence[str]:
    """The rule codes that have a finder, in evaluation order."""
    return tuple(CANDIDATE_FINDERS)
