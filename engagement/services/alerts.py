"""Alerts: evaluating the rules in bulk, acknowledging and resolving what they raise."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import DomainValidationError
from engagement.models import Alert, AlertRule, EngagementScore
from engagement.selectors.alerts import CANDIDATE_FINDERS, AlertCandidate, alert_blocked_keys

logger = logging.getLogger(__name__)

# Thresholds of each rule, overridable per rule in AlertRule.params (staff edit them in the
# admin). The seed migration 0002_seed_alert_rules writes the same values once.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    AlertRule.Code.CRITICAL_RISK: {"levels": [EngagementScore.Level.CRITICAL.value]},
    AlertRule.Code.INACTIVE_14_DAYS: {"days": 14, "active_within_days": 60},
    AlertRule.Code.NO_LOGIN_7_DAYS: {"days": 7, "lookback_days": 60},
    AlertRule.Code.LOW_QUIZ_SCORES: {"quizzes": 3, "max_mean": 0.5, "lookback_days": 30},
    AlertRule.Code.WEAK_FIRST_WEEK: {
        "min_days_since_enrollment": 7,
        "max_days_since_enrollment": 14,
        "first_days": 7,
        "min_active_days": 2,
    },
    AlertRule.Code.RISK_RISING: {"min_increase": 20, "min_days_between": 6},
    AlertRule.Code.STREAK_AT_RISK: {"min_streak_days": 3, "local_hour": 18},
    AlertRule.Code.ABANDONED_VIDEOS: {
        "min_videos": 2,
        "max_percent": 90,
        "idle_days": 3,
        "lookback_days": 30,
    },
    AlertRule.Code.MISSED_LIVE_SESSIONS: {"min_missed": 2, "days": 14},
    # Raised by analytics' no-show prediction (not by alerts_evaluate): a registration for a
    # session in the next hours whose no-show probability reaches this.
    AlertRule.Code.NO_SHOW_RISK: {"min_probability": 0.5},
}


def alert_rule_params(*, rule: AlertRule) -> dict[str, Any]:
    """The rule's effective thresholds: its defaults overridden by what staff set."""
    return {**DEFAULT_PARAMS.get(rule.code, {}), **(rule.params or {})}


def alert_rule_params_for(*, code: str) -> dict[str, Any]:
    """The thresholds of the rule with `code` (its defaults while the rule has no row). One
    query."""
    rule = AlertRule.objects.filter(code=code).first()
    return alert_rule_params(rule=rule) if rule is not None else dict(DEFAULT_PARAMS[code])


def alert_rule_params_validate(*, code: str, params: Any) -> dict[str, Any]:
    """Check staff-edited thresholds of a rule; raise DomainValidationError naming `params`."""
    defaults = DEFAULT_PARAMS.get(code)
    if defaults is None:
        raise DomainValidationError({"code": f"Unknown alert rule '{code}'."})
    if not isinstance(params, dict):
        raise DomainValidationError({"params": "Params must be a JSON object."})
    errors = []
    for key, value in params.items():
        if key not in defaults:
            errors.append(f"Unknown parameter '{key}'; known: {', '.join(sorted(defaults))}.")
        elif isinstance(defaults[key], list):
            levels = set(EngagementScore.Level.values)
            if not (isinstance(value, list) and value and set(value) <= levels):
                errors.append(f"{key} must be a non-empty list of: {', '.join(sorted(levels))}.")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            errors.append(f"{key} must be a number of at least 0.")
    if errors:
        raise DomainValidationError({"params": errors})
    return params


@transaction.atomic
def alert_rule_update(
    *,
    rule: AlertRule,
    priority: int,
    cooldown_hours: int,
    params: dict[str, Any],
    is_active: bool,
) -> AlertRule:
    """Change a rule's priority (0-100), cooldown, thresholds and whether it runs."""
    if not 0 <= priority <= 100:
        raise DomainValidationError({"priority": "Priority must be between 0 and 100."})
    rule.params = alert_rule_params_validate(code=rule.code, params=params)
    rule.priority = priority
    rule.cooldown_hours = cooldown_hours
    rule.is_active = is_active
    rule.save(update_fields=["priority", "cooldown_hours", "params", "is_active"])
    return rule


def alerts_evaluate(
    *, now: datetime.datetime | None = None, codes: Sequence[str] | None = None
) -> int:
    """Evaluate every active rule (or those in `codes`) and raise new alerts; return how many.

    Alerts are per enrolment where the rule is about a course (its candidates name the course)
    and per learner otherwise. An enrolment gets no alert of a rule while one is unresolved or
    while the rule's cooldown since the last one runs; an alert about the learner (no course)
    blocks the rule for all their enrolments, and any of their alerts blocks a learner-level
    one (so scores from before scores per enrolment, alerted with no course, are not alerted
    twice). Concurrent runs are safe: the partial unique constraints on unresolved (rule,
    learner, course) and (rule, learner) drop a second insert.
    """
    now = now or timezone.now()
    unknown = sorted(set(codes or ()) - set(CANDIDATE_FINDERS))
    if unknown:
        raise DomainValidationError({"codes": f"Unknown alert rules: {', '.join(unknown)}."})
    rules = AlertRule.objects.filter(is_active=True, code__in=list(CANDIDATE_FINDERS))
    if codes is not None:
        rules = rules.filter(code__in=list(codes))
    created = 0
    for rule in rules:
        created += _rule_evaluate(rule=rule, now=now, params=alert_rule_params(rule=rule))
    return created


@transaction.atomic
def _rule_evaluate(*, rule: AlertRule, now: datetime.datetime, params: Mapping[str, Any]) -> int:
    return _candidates_raise(
        rule=rule, candidates=CANDIDATE_FINDERS[rule.code](now, params), now=now
    )


@transaction.atomic
def alerts_raise(
    *,
    code: str,
    candidates: Sequence[AlertCandidate],
    now: datetime.datetime | None = None,
) -> int:
    """Raise alerts of the rule `code` for candidates another app found; return how many new.

    For rules whose condition is computed elsewhere (analytics' no-show prediction): the
    same cooldown and de-duplication as `alerts_evaluate` apply, so calling it again with
    the same candidates raises nothing. A rule switched off (or deleted) raises nothing.
    """
    if code not in AlertRule.Code.values:
        raise DomainValidationError({"code": f"Unknown alert rule '{code}'."})
    rule = AlertRule.objects.filter(code=code).first()
    if rule is None or not rule.is_active or not candidates:
        return 0  # a rule row that staff deleted raises nothing, like one switched off
    return _candidates_raise(rule=rule, candidates=candidates, now=now or timezone.now())


def _candidates_raise(
    *, rule: AlertRule, candidates: Sequence[AlertCandidate], now: datetime.datetime
) -> int:
    if not candidates:
        return 0
    blocked = alert_blocked_keys(rule_id=rule.pk, now=now, cooldown_hours=rule.cooldown_hours)
    blocked_learners = {user_id for user_id, _ in blocked}

    def is_blocked(user_id: int, course_id: int | None) -> bool:
        if course_id is None:
            return user_id in blocked_learners
        return (user_id, course_id) in blocked or (user_id, None) in blocked

    alerts = [
        Alert(
            rule=rule,
            user_id=candidate.user_id,
            course_id=candidate.course_id,
            priority=rule.priority,
            message=candidate.message[:255],
            context=candidate.context,
            created_at=now,
        )
        for candidate in candidates
        if not is_blocked(candidate.user_id, candidate.course_id)
    ]
    if not alerts:
        return 0
    # ignore_conflicts leaves no ids to count, so count this run's rows of the rule instead.
    mine = Alert.objects.filter(rule=rule, created_at=now)
    before = mine.count()
    Alert.objects.bulk_create(alerts, batch_size=1000, ignore_conflicts=True)
    created = mine.count() - before
    logger.info("alert rule %s raised %d alerts", rule.code, created)
    return created


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().select_related("rule").get(pk=alert.pk)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, by: User | None) -> Alert:
    """Mark an open alert as being looked at; acknowledging twice changes nothing.

    `by` is None when an integrator's API key acknowledges it.
    """
    alert = _locked(alert)
    if alert.status == Alert.Status.RESOLVED:
        raise DomainValidationError({"status": "This alert is already resolved."})
    if alert.status == Alert.Status.OPEN:
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = by
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, by: User | None) -> Alert:
    """Close an open or acknowledged alert; the rule may fire again after its cooldown."""
    alert = _locked(alert)
    if alert.status == Alert.Status.RESOLVED:
        raise DomainValidationError({"status": "This alert is already resolved."})
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = by
    alert.save(update_fields=["status", "resolved_at", "resolved_by"])
    return alert
