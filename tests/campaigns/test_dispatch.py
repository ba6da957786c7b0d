"""Running one-time and recurring campaigns: runs, recipients, chunks, figures, learner-local
times, the rate limit, pause and resume, and the activation checks."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignLog, CampaignRecipient, CampaignRun, RunChunk
from campaigns.services import dispatch
from campaigns.services.campaigns import (
    campaign_activate,
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_update,
)
from campaigns.services.dispatch import chunk_run, run_start
from core.errors import DomainValidationError
from interventions.models import ChannelOptOut, Delivery
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import make_campaign, one_time_spec, run_due

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def test_a_one_time_campaign_sends_once_to_its_audience_and_completes(template, learners):
    campaign = make_campaign(one_time_spec())
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.next_run_at == campaign.starts_at

    assert run_due(timezone.now()) == []  # not due yet
    (run,) = run_due(campaign.starts_at + datetime.timedelta(seconds=30))

    assert run.status == CampaignRun.Status.DONE
    assert (run.targeted, run.queued, run.progress) == (5, 5, 100)
    deliveries = Delivery.objects.filter(source=run.source)
    assert sorted(deliveries.values_list("user_id", flat=True)) == sorted(u.pk for u in learners)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.next_run_at is None
    assert list(campaign.log.order_by("at", "id").values_list("action", flat=True)) == [
        "created",
        "activated",
        "completed",
    ]
    # Beat asks again the next minute: nothing more is sent.
    assert run_due(campaign.starts_at + datetime.timedelta(minutes=1)) == []
    assert Delivery.objects.count() == 5


def test_the_run_keeps_who_was_targeted_even_when_the_audience_changes(template, learners):
    campaign = make_campaign(one_time_spec())
    (run,) = run_due(campaign.starts_at)
    UserFactory()  # joins after the run
    assert CampaignRecipient.objects.filter(run=run).count() == 5


def test_skips_are_counted_by_reason(template, learners):
    ChannelOptOut.objects.create(user=learners[0], channel="email")
    campaign = make_campaign(one_time_spec())
    (run,) = run_due(campaign.starts_at)
    assert run.targeted == 5
    assert run.queued == 4
    assert run.skipped == {"opted_out": 1}


def test_large_audiences_are_cut_into_chunks_with_progress(template, settings):
    UserFactory.create_batch(7)
    settings.STRIDE_CAMPAIGN_CHUNK_SIZE = 3
    campaign = make_campaign(one_time_spec())
    (run_id,) = dispatch.campaigns_claim_due(now=campaign.starts_at)
    run_start(run_id=run_id, now=campaign.starts_at)
    run = CampaignRun.objects.get(pk=run_id)
    assert (run.status, run.chunks_total, run.progress) == ("running", 3, 0)
    chunks = list(RunChunk.objects.filter(run=run).order_by("index"))
    assert [(c.first, c.last) for c in chunks] == [(0, 2), (3, 5), (6, 6)]

    chunk_run(chunk_id=chunks[0].pk, now=campaign.starts_at)
    run.refresh_from_db()
    assert (run.chunks_done, run.queued, run.progress) == (1, 3, 33)
    for chunk in chunks[1:]:
        chunk_run(chunk_id=chunk.pk, now=campaign.starts_at)
    run.refresh_from_db()
    assert (run.status, run.queued, run.progress) == ("done", 7, 100)


def test_a_redelivered_chunk_task_sends_nothing_twice(template, learners):
    campaign = make_campaign(one_time_spec())
    (run,) = run_due(campaign.starts_at)
    chunk = RunChunk.objects.get(run=run)
    assert chunk_run(chunk_id=chunk.pk) is None
    assert run_start(run_id=run.pk) is False
    assert Delivery.objects.count() == 5


def test_a_recurring_campaign_moves_to_its_next_occurrence(template, learners, settings):
    settings.STRIDE_INTERVENTION_DAILY_CAP = 10  # the runs are a day apart to the second
    start = timezone.now().date() + datetime.timedelta(days=1)
    spec = one_time_spec(
        schedule={
            "type": "recurring",
            "rrule": "FREQ=DAILY;COUNT=2",
            "time": "09:00",
            "timezone": "Europe/Paris",
            "start": start.isoformat(),
        }
    )
    campaign = make_campaign(spec)
    assert campaign.status == Campaign.Status.ACTIVE
    first = campaign.next_run_at
    assert first.astimezone(datetime.timezone(datetime.timedelta(0))).date() == start

    (run1,) = run_due(first)
    campaign.refresh_from_db()
    assert campaign.next_run_at == first + datetime.timedelta(days=1)
    assert campaign.status == Campaign.Status.ACTIVE
    (run2,) = run_due(campaign.next_run_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert run1.source != run2.source
    # Each occurrence reached everyone once: a learner may get a recurring message each time.
    assert Delivery.objects.filter(user=learners[0]).count() == 2


def test_learner_local_time_sends_at_nine_on_each_learners_clock(template):
    tokyo = UserFactory(timezone="Asia/Tokyo")
    london = UserFactory(timezone="Europe/London")
    la = UserFactory(timezone="America/Los_Angeles")
    day = timezone.now().date() + datetime.timedelta(days=3)
    spec = one_time_spec(
        schedule={"type": "one_time", "at": f"{day}T09:00", "timezone": "Europe/London"},
        learner_local_time=True,
    )
    campaign = make_campaign(spec)
    wall = datetime.datetime.combine(day, datetime.time(9))
    # The run starts when 09:00 first happens anywhere (UTC+14).
    assert campaign.next_run_at == wall.replace(tzinfo=UTC) - datetime.timedelta(hours=14)
    (run,) = run_due(campaign.next_run_at)
    due = dict(Delivery.objects.filter(source=run.source).values_list("user_id", "due_at"))
    for learner in (tokyo, london, la):
        local = due[learner.pk].astimezone(ZoneInfo(learner.timezone))
        assert (local.date(), local.hour, local.minute) == (day, 9, 0)
    assert due[tokyo.pk] < due[london.pk] < due[la.pk]


def test_the_rate_limit_spreads_the_messages(template):
    UserFactory.create_batch(6)
    campaign = make_campaign(one_time_spec(rate_per_minute=2))
    (run,) = run_due(campaign.starts_at)
    dues = sorted(Delivery.objects.filter(source=run.source).values_list("due_at", flat=True))
    assert dues[-1] - dues[0] == datetime.timedelta(seconds=150)
    assert dues[1] - dues[0] == datetime.timedelta(seconds=30)


def test_a_paused_campaign_holds_its_chunks_and_resume_goes_on(template, learners):
    campaign = make_campaign(one_time_spec())
    (run_id,) = dispatch.campaigns_claim_due(now=campaign.starts_at)
    run_start(run_id=run_id, now=campaign.starts_at)
    campaign_pause(campaign=campaign, actor=None)
    chunk = RunChunk.objects.get(run_id=run_id)
    assert chunk_run(chunk_id=chunk.pk) is None
    assert Delivery.objects.count() == 0

    campaign_resume(campaign=campaign, actor=None)
    assert chunk_run(chunk_id=chunk.pk) == 5
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert list(campaign.log.order_by("at", "id").values_list("action", flat=True)) == [
        "created",
        "activated",
        "paused",
        "resumed",
        "completed",
    ]


def test_a_cancelled_campaign_sends_no_more(template, learners):
    campaign = make_campaign(one_time_spec())
    (run_id,) = dispatch.campaigns_claim_due(now=campaign.starts_at)
    run_start(run_id=run_id, now=campaign.starts_at)
    campaign_cancel(campaign=campaign, actor=None)
    chunk_run(chunk_id=RunChunk.objects.get(run_id=run_id).pk)
    run = CampaignRun.objects.get(pk=run_id)
    assert run.status == CampaignRun.Status.DONE
    assert run.skipped == {"cancelled": 5}
    assert Delivery.objects.count() == 0


def test_activation_refuses_a_schedule_in_the_past_naming_it(template):
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    campaign = make_campaign(
        one_time_spec(schedule={"type": "one_time", "at": past, "timezone": "UTC"}),
        activate=False,
    )
    with pytest.raises(DomainValidationError) as caught:
        campaign_activate(campaign=campaign, actor=None)
    assert "is in the past" in caught.value.fields["schedule.at"][0]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_activation_refuses_an_empty_or_switched_off_template(template):
    campaign = make_campaign(one_time_spec(), activate=False)
    template.body = "   "
    template.save()
    with pytest.raises(DomainValidationError) as caught:
        campaign_activate(campaign=campaign, actor=None)
    assert "empty body" in caught.value.fields["template"][0]
    template.body, template.is_active = "Hello", False
    template.save()
    with pytest.raises(DomainValidationError) as caught:
        campaign_activate(campaign=campaign, actor=None)
    assert "switched off" in caught.value.fields["template"][0]


def test_activation_refuses_an_invalid_saved_audience(template):
    campaign = make_campaign(one_time_spec(), activate=False)
    Campaign.objects.filter(pk=campaign.pk).update(
        filter={"field": "risk", "op": "contains", "value": "x"}
    )
    campaign.refresh_from_db()
    with pytest.raises(DomainValidationError) as caught:
        campaign_activate(campaign=campaign, actor=None)
    assert "audience" in caught.value.fields


@pytest.mark.parametrize(
    ("change", "field", "wording"),
    [
        ({"name": ""}, "name", "1 to 120"),
        ({"channel": "fax"}, "channel", "fax"),
        ({"audience": {"segment": "nope"}}, "audience.segment", "No segment"),
        ({"audience": {"segment": 1, "filter": {}}}, "audience", "Give"),
        ({"schedule": {"type": "weekly"}}, "schedule.type", "weekly"),
        ({"schedule": {"type": "one_time", "at": "tomorrow"}}, "schedule.at", ""),
        (
            {"schedule": {"type": "recurring", "rrule": "FREQ=HOURLY", "time": "09:00"}},
            "schedule.rrule",
            "at most daily",
        ),
        ({"schedule": {"type": "recurring", "rrule": "FREQ=DAILY"}}, "schedule.time", ""),
        ({"schedule": {"type": "drip", "steps": []}}, "schedule.steps", "at least one"),
        (
            {"schedule": {"type": "drip", "steps": [{"template": "nudge", "delay_days": -1}]}},
            "schedule.steps[0].delay_days",
            "0 to 3650",
        ),
        (
            {"schedule": {"type": "drip", "steps": [{"template": "gone"}]}},
            "schedule.steps[0].template",
            "No template",
        ),
        ({"template": "missing"}, "template", "No template"),
        ({"rate_per_minute": -5}, "rate_per_minute", "whole number"),
        ({"learner_local_time": "yes"}, "learner_local_time", "true or false"),
        (
            {"schedule": {"type": "one_time", "at": "2030-01-01T09:00", "timezone": "Moon"}},
            "schedule.timezone",
            "Unknown timezone",
        ),
    ],
)
def test_every_mistake_in_a_spec_is_named_by_its_path(template, change, field, wording):
    with pytest.raises(DomainValidationError) as caught:
        campaign_create(spec=one_time_spec(**change), actor=None)
    assert field in caught.value.fields
    assert wording in " ".join(caught.value.fields[field])
    assert not Campaign.objects.exists()


def test_a_finished_campaign_cannot_change_and_edits_are_logged(template, learners, staff_user):
    campaign = make_campaign(one_time_spec(), actor=staff_user)
    campaign_update(campaign=campaign, spec={"name": "Renamed"}, actor=staff_user)
    entry = CampaignLog.objects.filter(campaign=campaign, action="edited").get()
    assert (entry.actor, entry.detail) == (staff_user, "name")
    run_due(campaign.starts_at)
    with pytest.raises(DomainValidationError) as caught:
        campaign_update(campaign=campaign, spec={"name": "Again"}, actor=None)
    assert caught.value.code == "conflict"


def test_a_run_that_cannot_start_fails_with_its_reason_and_others_still_run(template, learners):
    from campaigns.services.dispatch import campaigns_dispatch_due

    broken = make_campaign(one_time_spec(name="Broken"))
    fine = make_campaign(one_time_spec(name="Fine"))
    # Its saved audience no longer reads (as if edited outside the checks).
    Campaign.objects.filter(pk=broken.pk).update(filter={"field": "nope", "op": "=", "value": 1})
    campaigns_dispatch_due(now=fine.starts_at)

    failed = CampaignRun.objects.get(campaign=broken)
    assert failed.status == CampaignRun.Status.FAILED
    assert "nope" in failed.error
    assert broken.log.filter(action="run failed").exists()
    assert CampaignRun.objects.get(campaign=fine).status == CampaignRun.Status.RUNNING
    broken.refresh_from_db()
    assert broken.status == Campaign.Status.COMPLETED


def test_a_template_switched_off_mid_run_fails_the_run_and_sends_nothing(template, learners):
    campaign = make_campaign(one_time_spec())
    (run_id,) = dispatch.campaigns_claim_due(now=campaign.starts_at)
    run_start(run_id=run_id, now=campaign.starts_at)
    template.is_active = False
    template.save()
    chunk_run(chunk_id=RunChunk.objects.get(run_id=run_id).pk)
    run = CampaignRun.objects.get(pk=run_id)
    assert run.status == CampaignRun.Status.FAILED
    assert "switched off" in run.error
    assert run.skipped == {"failed": 5}
    assert Delivery.objects.count() == 0


def test_a_campaign_holds_out_the_same_share_of_learners_every_run(template, settings):
    from interventions.models import Holdout

    settings.STRIDE_INTERVENTION_DAILY_CAP = 10
    UserFactory.create_batch(300)
    start = timezone.now().date() + datetime.timedelta(days=1)
    spec = one_time_spec(
        holdout_percent=20,
        schedule={
            "type": "recurring",
            "rrule": "FREQ=DAILY;COUNT=2",
            "time": "09:00",
            "timezone": "UTC",
            "start": start.isoformat(),
        },
    )
    campaign = make_campaign(spec)
    (first,) = run_due(campaign.next_run_at)
    campaign.refresh_from_db()
    (second,) = run_due(campaign.next_run_at)

    held = set(Holdout.objects.filter(source=first.source).values_list("user_id", flat=True))
    assert 40 <= len(held) <= 80  # 20 % of 300, give or take chance
    assert first.skipped == {"held_out": len(held)}
    assert first.queued == 300 - len(held)
    assert not Delivery.objects.filter(user_id__in=held).exists()
    again = set(Holdout.objects.filter(source=second.source).values_list("user_id", flat=True))
    assert again == held  # the same learners, every run
    assert set(Holdout.objects.values_list("scope", flat=True)) == {f"campaign:{campaign.pk}"}
