"""The demo's campaigns, made and run through the campaigns services as beat and the workers
would have run them over the last weeks: a weekly re-engagement campaign with its run
history, an onboarding drip (days 1, 3, 7, 14, 30 after enrolment) with learners at every
step, and a one-time announcement sent last week. In-app, so `make run`'s console stays
quiet. A rerun finds them by name and adds nothing."""

from __future__ import annotations

import datetime
import random
from zoneinfo import ZoneInfo

from campaigns.models import Campaign, CampaignLog, CampaignRun, RunChunk
from campaigns.services.campaigns import campaign_activate, campaign_create
from campaigns.services.dispatch import campaigns_claim_due, chunk_run, run_start
from campaigns.services.drips import drip_dispatch_one
from campaigns.services.segments import segments_predefined_install
from demo.experiments import demo_campaign_experiment_start, demo_experiments_finish
from interventions.models import Delivery
from interventions.services.deliveries import deliveries_send_due
from interventions.services.notifications import notifications_mark_read
from interventions.services.tracking import delivery_link_click

WEEKLY = "Weekly re-engagement"
ONBOARDING = "Onboarding drip"
ANNOUNCEMENT = "New course announcement"
DRIP_STEPS = (
    (1, "personalized-content"),
    (3, "gentle-reminder"),
    (7, "peer-comparison"),
    (14, "milestone-celebration"),
    (30, "discount-offer"),
)


def _engage(delivery_ids: list[int], at: datetime.datetime, rng: random.Random) -> None:
    """Some learners read the message within the day, some of those click."""
    rows = dict(
        Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.DELIVERED).values_list(
            "pk", "user_id"
        )
    )
    for delivery_id, user_id in rows.items():
        roll = rng.random()
        seen = at + datetime.timedelta(minutes=rng.randint(10, 16 * 60))
        if roll < 0.55:
            notifications_mark_read(user_id=user_id, delivery_ids=[delivery_id], now=seen)
        if roll < 0.25:
            delivery_link_click(delivery_id=delivery_id, position=0, now=seen)


def _run_due(moment: datetime.datetime, rng: random.Random) -> None:
    """What beat and a worker do at `moment`: due runs started, their chunks queued, the
    messages sent, then read and clicked by some."""
    for run_id in campaigns_claim_due(now=moment):
        run_start(run_id=run_id, now=moment)
        for chunk_id in RunChunk.objects.filter(run_id=run_id).values_list("pk", flat=True):
            chunk_run(chunk_id=chunk_id, now=moment)
        run = CampaignRun.objects.get(pk=run_id)
        deliveries_send_due(now=moment + datetime.timedelta(hours=14))
        fresh = list(Delivery.objects.filter(source=run.source).values_list("pk", flat=True))
        _engage(fresh, moment, rng)


def demo_campaigns_run(*, now: datetime.datetime, seed: int) -> int:
    """Make the three campaigns and their history (nothing if they exist); how many made."""
    if Campaign.objects.filter(name__in=[WEEKLY, ONBOARDING, ANNOUNCEMENT]).exists():
        return 0
    segments_predefined_install()
    rng = random.Random(seed)
    start = (now - datetime.timedelta(days=28)).date()
    weekly = campaign_create(
        spec={
            "name": WEEKLY,
            "description": "Monday morning nudge to learners inactive for a week.",
            "channel": "in_app",
            "audience": {"segment": "inactive-7-days"},
            "schedule": {
                "type": "recurring",
                "rrule": "FREQ=WEEKLY;BYDAY=MO",
                "time": "09:00",
                "timezone": "Europe/London",
                "start": start.isoformat(),
            },
            "template": "gentle-reminder",
            "learner_local_time": False,
        },
        actor=None,
    )
    campaign_activate(campaign=weekly, actor=None)
    announcement = campaign_create(
        spec={
            "name": ANNOUNCEMENT,
            "description": "A one-time message to every learner about the new course.",
            "channel": "in_app",
            "audience": {"segment": "all-learners"},
            "schedule": {
                "type": "one_time",
                "at": (now + datetime.timedelta(hours=1)).isoformat(),
                "timezone": "UTC",
            },
            "template": "personalized-content",
        },
        actor=None,
    )
    campaign_activate(campaign=announcement, actor=None)
    # Replay the past: the weekly campaign's Mondays since `start`, the announcement a week
    # ago (its time moved back, as if it had been scheduled then).
    mondays = _mondays(start, now)
    announce_at = (now - datetime.timedelta(days=6)).replace(second=0, microsecond=0)
    if mondays:
        Campaign.objects.filter(pk=weekly.pk).update(next_run_at=mondays[0])
        demo_campaign_experiment_start(
            campaign=weekly, started=mondays[0] - datetime.timedelta(hours=1)
        )
    Campaign.objects.filter(pk=announcement.pk).update(
        starts_at=announce_at, next_run_at=announce_at
    )
    for moment in sorted([*mondays, announce_at]):
        _run_due(moment, rng)

    onboarding = campaign_create(
        spec={
            "name": ONBOARDING,
            "description": "Five messages over a learner's first month in a course.",
            "channel": "in_app",
            "audience": {"segment": "all-learners"},
            "schedule": {
                "type": "drip",
                "anchor": "enrollment",
                "exit": ["completed", "unsubscribed"],
                "steps": [{"template": slug, "delay_days": days} for days, slug in DRIP_STEPS],
            },
        },
        actor=None,
    )
    campaign_activate(campaign=onboarding, actor=None)
    for days_back in range(21, -1, -1):  # a dispatch a day for three weeks, then today's
        moment = now - datetime.timedelta(days=days_back)
        drip_dispatch_one(campaign_id=onboarding.pk, now=moment)
        deliveries_send_due(now=moment + datetime.timedelta(hours=1))
    fresh = list(
        Delivery.objects.filter(source__startswith=onboarding.source_prefix).values_list(
            "pk", flat=True
        )
    )
    _engage(fresh, now - datetime.timedelta(days=1), rng)
    # Made when their history began, as far as the pages and the log can tell.
    for campaign, made_at in (
        (weekly, mondays[0] - datetime.timedelta(days=2) if mondays else now),
        (announcement, announce_at - datetime.timedelta(days=1)),
        (onboarding, now - datetime.timedelta(days=22)),
    ):
        Campaign.objects.filter(pk=campaign.pk).update(created_at=made_at)
        CampaignLog.objects.filter(campaign=campaign, action__in=["created", "activated"]).update(
            at=made_at
        )
    demo_experiments_finish(now=now, seed=seed)
    return 3


def _mondays(start: datetime.date, now: datetime.datetime) -> list[datetime.datetime]:
    """The weekly campaign's occurrences from `start` to `now` (Mondays, 09:00 London)."""
    london = ZoneInfo("Europe/London")
    out = []
    day = start + datetime.timedelta(days=(7 - start.weekday()) % 7)
    while True:
        moment = datetime.datetime.combine(day, datetime.time(9), tzinfo=london)
        if moment >= now:
            return out
        out.append(moment.astimezone(datetime.UTC))
        day += datetime.timedelta(days=7)
