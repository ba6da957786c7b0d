"""Reading campaigns for the API and the pages: lists with what they need joined, the next
run times, runs, drip progress and the log."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, DripProgress, Segment
from campaigns.schedules import Schedule, ScheduleError, zone_get

UPCOMING = 5


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("template", "segment", "anchor_course", "created_by")


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.annotate(campaigns_count=Count("campaigns"))


def run_list(*, campaign: Campaign) -> QuerySet[CampaignRun]:
    return campaign.runs.order_by("-occurrence", "-id")


def campaign_schedule(campaign: Campaign) -> Schedule:
    """The campaign's one-time or recurring schedule as plain values."""
    return Schedule(
        kind=campaign.kind,
        timezone=campaign.timezone,
        at=campaign.starts_at,
        rule=campaign.rrule,
        start_date=(
            campaign.starts_at.astimezone(zone_get(campaign.timezone)).date()
            if campaign.starts_at
            else None
        ),
        time=campaign.send_time,
        learner_local=campaign.learner_local_time,
    )


def campaign_upcoming(
    campaign: Campaign, *, count: int = UPCOMING, now: datetime.datetime | None = None
) -> list[datetime.datetime]:
    """The next `count` run times (UTC instants when the run starts) of a one-time or
    recurring campaign that is not finished; a drip's steps go per learner, so none."""
    if campaign.kind == Campaign.Kind.DRIP or campaign.status in (
        Campaign.Status.COMPLETED,
        Campaign.Status.CANCELLED,
    ):
        return []
    now = now or timezone.now()
    try:
        return campaign_schedule(campaign).upcoming(now, count)
    except ScheduleError:
        return []


def drip_counts(*, campaign: Campaign) -> dict[str, object]:
    """A drip's learners: in it now, finished, exited by reason, and how many are at each step."""
    rows = DripProgress.objects.filter(campaign=campaign)
    totals = rows.aggregate(
        entered=Count("pk"),
        active=Count("pk", filter=Q(exited_at__isnull=True)),
    )
    exits = dict(
        rows.filter(exited_at__isnull=False)
        .values_list("exit_reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    at_step = dict(
        rows.filter(exited_at__isnull=True).values_list("step").annotate(n=Count("pk")).order_by()
    )
    return {**totals, "exits": exits, "at_step": at_step}


def progress_list(*, campaign: Campaign) -> QuerySet[DripProgress]:
    return campaign.progress.select_related("user").order_by("-entered_at", "-id")
