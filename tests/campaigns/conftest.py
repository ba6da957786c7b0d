"""Campaign fixtures: learners, an email template, and campaigns made through the services
from the same specs the API and the builder take."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, RunChunk
from campaigns.services.campaigns import campaign_activate, campaign_create
from campaigns.services.dispatch import campaigns_claim_due, chunk_run, run_start
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

# Every learner (the filter language's "all learners").
EVERYONE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    """Quiet hours off unless a test turns them on: sends "now" must not depend on the hour
    the suite runs at."""
    settings.STRIDE_QUIET_HOURS = (0, 0)


@pytest.fixture
def template(db):
    return MessageTemplateFactory(slug="nudge", name="Nudge")


@pytest.fixture
def learners(db):
    return [UserFactory(timezone="UTC") for _ in range(5)]


def one_time_spec(template_slug: str = "nudge", **overrides: Any) -> dict[str, Any]:
    at = timezone.now() + datetime.timedelta(hours=1)
    spec = {
        "name": "Announcement",
        "channel": "email",
        "audience": {"filter": EVERYONE},
        "schedule": {"type": "one_time", "at": at.isoformat(), "timezone": "UTC"},
        "template": template_slug,
        "holdout_percent": 0,  # tests about sending count everyone; holdouts have their own
    }
    spec.update(overrides)
    return spec


def make_campaign(spec: dict[str, Any], *, activate: bool = True, actor=None) -> Campaign:
    campaign = campaign_create(spec=spec, actor=actor)
    if activate:
        campaign = campaign_activate(campaign=campaign, actor=actor)
    return campaign


def run_due(now: datetime.datetime) -> list[CampaignRun]:
    """What beat's dispatch does for one-time and recurring campaigns at `now`, with every
    chunk's task run here (in order) instead of on a worker."""
    runs = []
    for run_id in campaigns_claim_due(now=now):
        run_start(run_id=run_id, now=now)
        for chunk_id in RunChunk.objects.filter(run_id=run_id).values_list("pk", flat=True):
            chunk_run(chunk_id=chunk_id, now=now)
        runs.append(CampaignRun.objects.get(pk=run_id))
    return runs
