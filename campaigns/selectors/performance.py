"""What became of a campaign's messages: deliveries sent, opened, clicked and converted, per
campaign, per run or drip step (by delivery source), and per day for the chart.

Every delivery a campaign made has a source starting "campaign:<id>:" (a run's
"campaign:<id>:run:<run>", a drip step's "campaign:<id>:step:<step>"), so each figure is one
grouped query over interventions' deliveries, however many campaigns a page shows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from interventions.models import Delivery

_COUNTS = {
    "messages": Count("pk"),
    "sent": Count("pk", filter=Q(sent_at__isnull=False)),
    "opened": Count("pk", filter=Q(opened_at__isnull=False)),
    "clicked": Count("pk", filter=Q(clicked_at__isnull=False)),
    "converted": Count("pk", filter=Q(converted_at__isnull=False)),
    "failed": Count("pk", filter=Q(status__in=[Delivery.Status.FAILED, Delivery.Status.BOUNCED])),
}


@dataclass
class Figures:
    """Counts of deliveries and the rates staff read (opened, clicked, converted per sent)."""

    messages: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    failed: int = 0
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, row: dict[str, int]) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + row[name])

    def rate(self, name: str) -> float | None:
        """`name` per message sent, 0-1; None before anything was sent."""
        return getattr(self, name) / self.sent if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.rate("opened")

    @property
    def click_rate(self) -> float | None:
        return self.rate("clicked")

    @property
    def conversion_rate(self) -> float | None:
        return self.rate("converted")


def _campaign_of(source: str) -> int | None:
    parts = source.split(":")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


def campaign_figures(*, campaign_ids: Iterable[int]) -> dict[int, Figures]:
    """Figures of each campaign of `campaign_ids`, with each source's own, in one query."""
    ids = sorted(set(campaign_ids))
    out = {pk: Figures() for pk in ids}
    if not ids:
        return out
    match = reduce(or_, (Q(source__startswith=f"campaign:{pk}:") for pk in ids))
    rows = Delivery.objects.filter(match).values("source").annotate(**_COUNTS).order_by()
    for row in rows:
        campaign_id = _campaign_of(row["source"])
        if campaign_id in out:
            figures = out[campaign_id]
            figures.add(row)
            figures.by_source[row["source"]] = {name: row[name] for name in _COUNTS}
    return out


def campaign_timeline(*, campaign_id: int) -> list[dict[str, object]]:
    """Per day a message was sent: sent, opened, clicked and converted (of those sent that
    day), oldest first; the performance chart's data."""
    rows = (
        Delivery.objects.filter(
            source__startswith=f"campaign:{campaign_id}:", sent_at__isnull=False
        )
        .annotate(day=TruncDate("sent_at"))
        .values("day")
        .annotate(**{name: _COUNTS[name] for name in ("sent", "opened", "clicked", "converted")})
        .order_by("day")
    )
    return [
        {
            "day": row["day"].isoformat() if isinstance(row["day"], datetime.date) else row["day"],
            **{name: row[name] for name in ("sent", "opened", "clicked", "converted")},
        }
        for row in rows
    ]
