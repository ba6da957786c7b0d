"""Gamification's moments arrive as in-app messages: a handler of STRIDE_MOMENT_HANDLERS,
called after the commit with the newly recorded moments.

Level-ups, unlocked achievements, streak milestones, league results and rewards become
delivered in-app messages (source ``moment:<id>``, so a redelivered call adds nothing) of the
system template MOMENT_TEMPLATE. They are facts, not marketing: never capped or deferred, but
they count towards the caps of the messages that follow them.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.records import MomentRecord
from interventions.models import Channel, Delivery, InterventionType, MessageTemplate
from interventions.selectors.stats import MOMENT_TEMPLATE

SHOWN_KINDS = frozenset(
    {"level_up", "achievement_unlocked", "streak_milestone", "league_result", "reward_granted"}
)


def _moment_template() -> MessageTemplate:
    template, _ = MessageTemplate.objects.get_or_create(
        slug=MOMENT_TEMPLATE,
        defaults={
            "name": "Gamification moment (system)",
            "intervention_type": InterventionType.ACHIEVEMENT_NOTIFICATION,
            "channel": Channel.IN_APP,
            "subject": "{{ first_name }}, news about your progress",
            "body": "Level-ups, achievements, streak milestones and league results.",
            "cta_label": "See my progress",
        },
    )
    return template


def moments_to_messages(records: Sequence[MomentRecord]) -> int:
    """Turn the moments worth telling into delivered in-app messages; return how many."""
    shown = [r for r in records if r.kind in SHOWN_KINDS]
    if not shown:
        return 0
    template = _moment_template()
    rows = [
        Delivery(
            user_id=r.user_id,
            template=template,
            channel=Channel.IN_APP,
            source=f"moment:{r.id}",
            status=Delivery.Status.DELIVERED,
            subject=r.title[:200],
            body=r.body,
            created_at=r.occurred_at,
            due_at=r.occurred_at,
            sent_at=r.occurred_at,
            delivered_at=r.occurred_at,
        )
        for r in shown
    ]
    before = Delivery.objects.filter(source__in=[row.source for row in rows]).count()
    Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return Delivery.objects.filter(source__in=[row.source for row in rows]).count() - before
