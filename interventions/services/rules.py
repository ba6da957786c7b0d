"""Interventions that start by themselves: the rules.

After each scoring run (a handler of STRIDE_SCORING_HANDLERS) the "scoring" rules run: for
each, the run's enrolments at one of its levels whose recommendations hold its type are its
candidates, one per learner (their riskiest enrolment). On newly recorded gamification
moments (a handler of STRIDE_MOMENT_HANDLERS) the "moment" rules run: the learners who just
had one of the rule's moment kinds, at one of its levels if it names any (their current risk).
Either way a rule with `drivers` keeps only learners for whom one of those signals raises the
risk. So a triggered message is queued moments after the score or the event behind it.

Learners who got a delivery or a task from the rule within its cooldown are left out; the
rest get the template (source ``rule:<rule>:run:<run>``, or ``rule:<rule>:moment:<kind>:<day>``
for moments, so a rerun of a handler queues nothing twice) or, for an outreach rule, a task
for staff due in two days. Urgency: learners at critical risk also get the message on the
rule's `urgent_channels` (Web Push, SMS), as one message on several channels, which the
frequency caps count once.

Holdouts: each rule holds out `holdout_percent` of its eligible learners (scope
``rule:<rule>``, drawn by `deliveries_queue` after opt-outs, suppressions and caps; for an
outreach rule, of the learners due a task): they get no message and no task, on no channel,
and are recorded as `Holdout` rows. A learner held out within the cooldown is left out like
one contacted, so both arms are counted at the same pace.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.assignment import variant_assign
from core.records import MomentRecord
from engagement.selectors.scores import current_scores_of, run_recommendations
from interventions.models import Delivery, MessageTemplate, OutreachTask, Rule
from interventions.selectors.holdouts import holdout_is_drawn, holdout_user_ids
from interventions.services.deliveries import deliveries_queue, holdout_check, holdouts_record

OUTREACH_DUE_DAYS = 2


@dataclass(frozen=True)
class Candidate:
    course_id: int | None
    risk: int
    level: str


def rules_apply_to_run(run: Any) -> dict[int, int]:
    """Apply every active scoring rule to a finished scoring run; return {rule id: learners
    reached}."""
    rows = run_recommendations(run_id=run.pk)
    reached: dict[int, int] = {}
    for rule in Rule.objects.filter(is_active=True, trigger=Rule.Trigger.SCORING).select_related(
        "template"
    ):
        candidates: dict[int, Candidate] = {}
        for user_id, course_id, level, risk, codes, raising in rows:  # riskiest first
            if (
                level in rule.levels
                and rule.intervention_type in codes
                and (not rule.drivers or raising & set(rule.drivers))
                and user_id not in candidates
            ):
                candidates[user_id] = Candidate(course_id, risk, level)
        reached[rule.pk] = _apply(rule, f"run:{run.pk}", candidates)
    return reached


def rules_apply_to_moments(records: Sequence[MomentRecord]) -> dict[int, int]:
    """Apply every active moment rule to newly recorded moments; return {rule id: learners
    reached}. One message per rule, learner, kind and day, however often the moment recurs."""
    rules = list(
        Rule.objects.filter(is_active=True, trigger=Rule.Trigger.MOMENT).select_related("template")
    )
    wanted = {kind for rule in rules for kind in rule.moment_kinds}
    shown = [r for r in records if r.kind in wanted]
    if not shown:
        return {}
    facts = {
        user_id: scores[0]
        for user_id, scores in current_scores_of(
            user_ids=sorted({r.user_id for r in shown})
        ).items()
    }
    reached: dict[int, int] = defaultdict(int)
    for rule in rules:
        groups: dict[str, dict[int, Candidate]] = defaultdict(dict)
        for record in shown:
            if record.kind not in rule.moment_kinds:
                continue
            score = facts.get(record.user_id)
            level = score.level if score else ""
            raising = {d["signal"] for d in score.raising_drivers} if score else set()
            if rule.levels and level not in rule.levels:
                continue
            if rule.drivers and not raising & set(rule.drivers):
                continue
            key = f"moment:{record.kind}:{record.occurred_at.date().isoformat()}"
            groups[key][record.user_id] = Candidate(
                score.course_id if score else None, score.drop_off_risk if score else 0, level
            )
        for key, candidates in groups.items():
            reached[rule.pk] += _apply(rule, key, candidates)
    return dict(reached)


def moments_to_rules(records: Sequence[MomentRecord]) -> int:
    """The STRIDE_MOMENT_HANDLERS entry: how many learners the moment rules reached."""
    return sum(rules_apply_to_moments(records).values())


@transaction.atomic
def _apply(rule: Rule, occasion: str, candidates: Mapping[int, Candidate]) -> int:
    if not candidates:
        return 0
    since = timezone.now() - datetime.timedelta(days=rule.cooldown_days)
    scope = rule_holdout_scope(rule)
    prefix = f"{scope}:"
    source = f"{prefix}{occasion}"
    recent = set(
        Delivery.objects.filter(
            user_id__in=list(candidates), source__startswith=prefix, created_at__gte=since
        ).values_list("user_id", flat=True)
    ) | set(
        OutreachTask.objects.filter(
            user_id__in=list(candidates), rule=rule, created_at__gte=since
        ).values_list("user_id", flat=True)
    )
    if rule.holdout_percent:
        recent |= holdout_user_ids(scope=scope, user_ids=list(candidates), since=since)
    due = {u: c for u, c in candidates.items() if u not in recent}
    share = rule.holdout_percent / 100
    if rule.creates_outreach_task:
        return _tasks(rule, source, due)
    if rule.template is None or not due:
        return 0
    # Each message is about the learner's riskiest matching enrolment.
    course_of = {user_id: c.course_id for user_id, c in due.items()}
    reached = 0
    for template, user_ids in _arms(rule, list(due)):
        channel = rule.channel or template.channel
        result = deliveries_queue(
            template=template,
            user_ids=user_ids,
            source=source,
            channel=channel,
            course_of=course_of,
            holdout_scope=scope,
            holdout_share=share,
        )
        # The held-out get nothing on the urgent channels either (the same draw, and the
        # holdout already recorded for this source answers them held out again).
        critical = [u for u in user_ids if due[u].level == "critical" and u not in result.held_out]
        for urgent in rule.urgent_channels if critical else ():
            if urgent != channel:
                deliveries_queue(
                    template=template,
                    user_ids=critical,
                    source=source,
                    channel=urgent,
                    course_of=course_of,
                    holdout_scope=scope,
                    holdout_share=share,
                )
        reached += result.new
    return reached


def _arms(rule: Rule, user_ids: list[int]) -> list[tuple[MessageTemplate, list[int]]]:
    """Who gets which template: everyone the rule's, or, while an experiment runs on the
    rule's arms, each learner their arm's (deterministic and sticky, core.assignment)."""
    if not rule.arms_key or not rule.arms:
        return [(rule.template, user_ids)]
    templates = MessageTemplate.objects.in_bulk([arm["template_id"] for arm in rule.arms])
    weights = [(arm["key"], arm["weight"]) for arm in rule.arms]
    template_of = {arm["key"]: templates.get(arm["template_id"]) for arm in rule.arms}
    groups: dict[str, list[int]] = {}
    for user_id in user_ids:
        groups.setdefault(variant_assign(rule.arms_key, user_id, weights), []).append(user_id)
    # An arm whose template was deleted since sends the rule's own.
    return [(template_of[key] or rule.template, ids) for key, ids in groups.items()]


def rule_holdout_scope(rule: Rule) -> str:
    """The scope a rule's holdout is drawn for and recorded under: ``rule:<id>``."""
    return f"rule:{rule.pk}"


def _tasks(rule: Rule, source: str, due: Mapping[int, Candidate]) -> int:
    """Outreach tasks for the learners due one, less the rule's holdout (recorded, no task)."""
    today = timezone.localdate()
    scope, share = rule_holdout_scope(rule), rule.holdout_percent / 100
    if holdout_check(scope, share) and due:
        held = holdout_user_ids(scope=scope, source=source, user_ids=list(due)) | {
            u for u in due if holdout_is_drawn(scope, u, share)
        }
        holdouts_record(
            scope=scope,
            source=source,
            channel="",
            template_id=rule.template_id,
            courses={u: due[u].course_id for u in held},
            now=timezone.now(),
        )
        due = {u: c for u, c in due.items() if u not in held}
    tasks = [
        OutreachTask(
            user_id=user_id,
            course_id=c.course_id,
            rule=rule,
            source=source,
            risk=c.risk,
            reason=f"{rule.name}: drop-off risk {c.risk}",
            due_on=today + datetime.timedelta(days=OUTREACH_DUE_DAYS),
        )
        for user_id, c in due.items()
    ]
    before = OutreachTask.objects.filter(source=source).count()
    OutreachTask.objects.bulk_create(tasks, ignore_conflicts=True)  # a rerun adds none
    return OutreachTask.objects.filter(source=source).count() - before
