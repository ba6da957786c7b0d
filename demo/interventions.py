"""The demo's intervention history: in-app messages sent over the last two weeks through the
real services (queue, send, read, click, convert), so the student pages and the delivery
admin have something true to show. In-app only: `make run` prints emails to the console."""

from __future__ import annotations

import datetime
import random

from interventions.models import Delivery
from interventions.selectors.templates import template_get
from interventions.services.conversions import delivery_conversion_record
from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from interventions.services.notifications import notifications_mark_read
from interventions.services.tracking import delivery_link_click

DAYS_BACK = (13, 10, 7, 4, 1)
SLUGS = ("streak-warning", "milestone-celebration", "achievement-notification")
PER_DAY = 30


def demo_interventions_send(
    student_ids: list[int], *, now: datetime.datetime, seed: int
) -> dict[str, int]:
    """Send the history (a rerun the same day adds nothing); return the counts made."""
    rng = random.Random(seed)
    templates = [t for t in (template_get(slug=slug) for slug in SLUGS) if t is not None]
    made = {"sent": 0, "read": 0, "clicked": 0, "converted": 0}
    if not templates or not student_ids:
        return made
    for index, days in enumerate(DAYS_BACK):
        at = (now - datetime.timedelta(days=days)).replace(hour=10, minute=0, second=0)
        template = templates[index % len(templates)]
        chosen = rng.sample(student_ids, min(PER_DAY, len(student_ids)))
        queued = deliveries_queue(
            template=template,
            user_ids=chosen,
            source=f"demo:{at.date().isoformat()}:{template.slug}",
            now=at,
        )
        # Only what this run queued (a rerun finds the day's deliveries sent already).
        fresh = list(
            Delivery.objects.filter(pk__in=queued.queued.values(), sent_at=None)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        made["sent"] += deliveries_send_due(now=at + datetime.timedelta(hours=14))
        delivered = dict(
            Delivery.objects.filter(pk__in=fresh, status=Delivery.Status.DELIVERED).values_list(
                "pk", "user_id"
            )
        )
        for delivery_id in fresh:
            if delivery_id not in delivered:
                continue
            delivery = {"user_id": delivered[delivery_id]}
            roll = rng.random()
            # Read some hours after it arrived (the next morning at most), clicked on reading.
            read_at = at + datetime.timedelta(hours=14, minutes=rng.randint(5, 20 * 60))
            if roll < 0.6:
                notifications_mark_read(
                    user_id=delivery["user_id"], delivery_ids=[delivery_id], now=read_at
                )
                made["read"] += 1
            if roll < 0.3:
                delivery_link_click(delivery_id=delivery_id, position=0, now=read_at)
                made["clicked"] += 1
            if roll < 0.12:
                delivery_conversion_record(
                    delivery_id=delivery_id,
                    at=read_at + datetime.timedelta(minutes=rng.randint(2, 90)),
                )
                made["converted"] += 1
    return made
