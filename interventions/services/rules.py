"""Risk-triggered interventions: the rules run after each scoring run (a handler of
STRIDE_SCORING_HANDLERS), so a triggered message is queued minutes after the score.

For each active rule, the run's enrolments at one of its levels whose recommendations hold
its type are its candidates, one per learner (their riskiest enrolment). Learners who got a
delivery or a task from the rule within its cooldown are left out; the rest get the template
(source ``rule:<rule>:run:<run>``, so a rerun of the handler queues nothing twice) or, for an
outreach rule, a task for staff due in two days. Urgency: learners at critical risk also get
the message on the rule's `urgent_channels` (Web Push, SMS), as one message on several
channels, which the frequency caps count once.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from engagement.selectors.scores import run_recommendations
from interventions.models import Delivery, OutreachTask, Rule
from interventions.services.deliveries import deliveries_queue

OUTREACH_DUE_DAYS = 2


def rules_apply_to_run(run: Any) -> dict[int, int]:
    """Apply every active rule to a finished scoring run; return {rule id: learners reached}."""
    rows = run_recommendations(run_id=run.pk)
    reached: dict[int, int] = {}
    for rule in Rule.objects.filter(is_active=True).select_related("template"):
        reached[rule.pk] = _apply(rule, run.pk, rows)
    return reached


@transaction.atomic
def _apply(rule: Rule, run_id: int, rows: list[tuple[Any, ...]]) -> int:
    levels = set(rule.levels)
    candidates: dict[int, tuple[Any, ...]] = {}
    for user_id, course_id, level, risk, codes in rows:  # riskiest first
        if level in levels and rule.intervention_type in codes and user_id not in candidates:
            candidates[user_id] = (course_id, risk, level)
    if not candidates:
        return 0
    since = timezone.now() - datetime.timedelta(days=rule.cooldown_days)
    prefix = f"rule:{rule.pk}:"
    recent = set(
        Delivery.objects.filter(
            user_id__in=list(candidates), source__startswith=prefix, created_at__gte=since
        ).values_list("user_id", flat=True)
    ) | set(
        OutreachTask.objects.filter(
            user_id__in=list(candidates), rule=rule, created_at__gte=since
        ).values_list("user_id", flat=True)
    )
    source = f"{prefix}run:{run_id}"
    due = {u: c for u, c in candidates.items() if u not in recent}
    if rule.creates_outreach_task:
        return _tasks(rule, source, due)
    if rule.template is None or not due:
        return 0
    # Each message is about the learner's riskiest matching enrolment.
    course_of = {user_id: course_id for user_id, (course_id, _, _) in due.items()}
    channel = rule.channel or rule.template.channel
    result = deliveries_queue(
        template=rule.template,
        user_ids=list(due),
        source=source,
        channel=channel,
        course_of=course_of,
    )
    critical = [u for u, (_, _, level) in due.items() if level == "critical"]
    for urgent in rule.urgent_channels if critical else ():
        if urgent != channel:
            deliveries_queue(
                template=rule.template,
                user_ids=critical,
                source=source,
                channel=urgent,
                course_of=course_of,
            )
    return len(result.queued)


def _tasks(rule: Rule, source: str, due: Mapping[int, tuple[Any, ...]]) -> int:
    today = timezone.localdate()
    tasks = [
        OutreachTask(
            user_id=user_id,
            course_id=course_id,
            rule=rule,
            source=source,
            risk=risk,
            reason=f"{rule.name}: drop-off risk {risk}",
            due_on=today + datetime.timedelta(days=OUTREACH_DUE_DAYS),
        )
        for user_id, (course_id, risk, _) in due.items()
    ]
    before = OutreachTask.objects.filter(source=source).count()
    OutreachTask.objects.bulk_create(tasks, ignore_conflicts=True)  # a rerun adds none
    return OutreachTask.objects.filter(source=source).count() - before
