"""Reads for alerts: the alert list, and which learners each alert rule matches right now.

Each `<code>_candidates` finder answers with one or a few bulk queries over events, scores and
enrollments (never a query per learner) and returns plain `AlertCandidate`s; cooldowns and
de-duplication are the service's business (engagement.services.alerts). A candidate is per
enrolment (course set) where the rule is about a course: risk, inactivity, the first week,
quizzes, videos, live sessions; and per learner (no course) where it is not: logins, streaks.

Modules: ``candidate`` (the result type and shared filters), ``stored`` (reads of alerts), one
module per family of finders (``risk``: stored scores; ``silence``: no activity or login;
``study``: quizzes, videos, live sessions; ``habits``: learners' local days, read through
``local_dates``), and ``registry`` (code -> finder). Callers import from here.
"""

from engagement.selectors.alerts.candidate import AlertCandidate, CandidateFinder
from engagement.selectors.alerts.habits import (
    streak_at_risk_candidates,
    weak_first_week_candidates,
)
from engagement.selectors.alerts.local_dates import enrolment_local_dates, learner_local_dates
from engagement.selectors.alerts.registry import CANDIDATE_FINDERS, alert_rule_codes
from engagement.selectors.alerts.risk import critical_risk_candidates, risk_rising_candidates
from engagement.selectors.alerts.silence import (
    inactive_14_days_candidates,
    no_login_7_days_candidates,
)
from engagement.selectors.alerts.stored import alert_blocked_keys, alert_list
from engagement.selectors.alerts.study import (
    abandoned_videos_candidates,
    low_quiz_scores_candidates,
    missed_live_sessions_candidates,
)

__all__ = [
    "CANDIDATE_FINDERS",
    "AlertCandidate",
    "CandidateFinder",
    "abandoned_videos_candidates",
    "alert_blocked_keys",
    "alert_list",
    "alert_rule_codes",
    "critical_risk_candidates",
    "enrolment_local_dates",
    "inactive_14_days_candidates",
    "learner_local_dates",
    "low_quiz_scores_candidates",
    "missed_live_sessions_candidates",
    "no_login_7_days_candidates",
    "risk_rising_candidates",
    "streak_at_risk_candidates",
    "weak_first_week_candidates",
]
