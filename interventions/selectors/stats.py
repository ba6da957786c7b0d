"""Delivery statistics: counts and rates per template, variant, channel or type, and a daily
trend. Numbers come from the deliveries themselves, never estimates.

Gamification's moments are left out (they are notices, not interventions). Rates are over
sent messages: open rate = opened / sent, click rate = clicked / sent,
conversion rate = converted / sent (a clicked message counts as opened; a converted one need
not have been opened). "Opened" for email is the tracking pixel (or a click), for in-app a read.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from interventions.models import Channel, Delivery, InterventionType, OutreachTask

MOMENT_TEMPLATE = "gamification-moment"  # interventions.services.moments owns its rows

GROUPINGS = {
    "template": ("template__slug", "template__name"),
    "variant": ("variant__name", "variant__name"),
    "channel": ("channel", "channel"),
    "type": ("template__intervention_type", "template__intervention_type"),
}


@dataclass(frozen=True)
class DeliveryStats:
    key: str
    label: str
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    failed: int
    median_minutes_to_open: float | None

    def _rate(self, n: int) -> float:
        return round(n / self.sent, 4) if self.sent else 0.0

    @property
    def open_rate(self) -> float:
        return self._rate(self.opened)

    @property
    def click_rate(self) -> float:
        return self._rate(self.clicked)

    @property
    def conversion_rate(self) -> float:
        return self._rate(self.converted)


@dataclass(frozen=True)
class TrendDay:
    day: datetime.date
    sent: int
    opened: int
    clicked: int
    converted: int


def _interventions() -> Any:
    """Deliveries of interventions: gamification's moments (notices of what happened, sent as
    in-app messages by the system template) are not counted."""
    return Delivery.objects.exclude(template__slug=MOMENT_TEMPLATE)


def _labels(by: str, key: str | None, name: str | None) -> tuple[str, str]:
    if by == "channel":
        return key or "", Channel(key).label if key in Channel.values else (key or "")
    if by == "type":
        label = InterventionType(key).label if key in InterventionType.values else (key or "")
        return key or "", label
    if by == "variant":
        return key or "", name or "(template itself)"
    return key or "", name or ""


def delivery_stats(*, by: str = "template", days: int = 30) -> list[DeliveryStats]:
    """Per `by` (template, variant, channel or type), the deliveries sent in the last `days`
    days: counts, rates and the median time to open. Two queries."""
    key_field, label_field = GROUPINGS[by]
    since = timezone.now() - datetime.timedelta(days=days)
    sent = _interventions().filter(sent_at__gte=since)
    rows = (
        sent.values(k=F(key_field), n=F(label_field))
        .annotate(
            sent=Count("id"),
            delivered=Count("id", filter=Q(delivered_at__isnull=False)),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            converted=Count("id", filter=Q(converted_at__isnull=False)),
            failed=Count("id", filter=Q(status=Delivery.Status.FAILED)),
        )
        .order_by("-sent", "k")
    )
    waits: dict[str | None, list[float]] = defaultdict(list)
    for key, sent_at, opened_at in sent.filter(opened_at__isnull=False).values_list(
        key_field, "sent_at", "opened_at"
    ):
        waits[key].append(max(0.0, (opened_at - sent_at).total_seconds() / 60))
    out = []
    for row in rows:
        key, label = _labels(by, row["k"], row["n"])
        minutes = waits.get(row["k"])
        out.append(
            DeliveryStats(
                key=key,
                label=label,
                sent=row["sent"],
                delivered=row["delivered"],
                opened=row["opened"],
                clicked=row["clicked"],
                converted=row["converted"],
                failed=row["failed"],
                median_minutes_to_open=round(statistics.median(minutes), 1) if minutes else None,
            )
        )
    return out


def delivery_trend(*, days: int = 30) -> list[TrendDay]:
    """Per day sent (UTC), the messages sent that day and how many of them were opened,
    clicked and converted since; every day of the span, zeros included. One query."""
    today = timezone.now().date()
    first = today - datetime.timedelta(days=days - 1)
    rows = {
        row["day"]: row
        for row in _interventions()
        .filter(sent_at__date__gte=first)
        .annotate(day=TruncDate("sent_at", tzinfo=datetime.UTC))
        .values("day")
        .annotate(
            sent=Count("id"),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            converted=Count("id", filter=Q(converted_at__isnull=False)),
        )
    }
    out = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        row = rows.get(day, {})
        out.append(
            TrendDay(
                day,
                row.get("sent", 0),
                row.get("opened", 0),
                row.get("clicked", 0),
                row.get("converted", 0),
            )
        )
    return out


def open_outreach_tasks(*, limit: int = 10) -> list[Any]:
    """The open outreach tasks, soonest due and riskiest first, with learner and course."""
    return list(
        OutreachTask.objects.filter(outcome=OutreachTask.Outcome.OPEN)
        .select_related("user", "course", "assignee")
        .order_by("due_on", "-risk", "id")[:limit]
    )
