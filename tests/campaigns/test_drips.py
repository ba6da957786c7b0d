"""Drip sequences: steps at their delays after the anchor, late entrants, exits and edits of
a running drip."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign, DripProgress
from campaigns.services.campaigns import campaign_update
from campaigns.services.drips import drip_dispatch_one, drips_dispatch
from interventions.models import ChannelOptOut, Delivery
from learning.models import Enrollment
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import make_campaign
from tests.interventions.factories import MessageTemplateFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def steps_templates(db):
    return [MessageTemplateFactory(slug=f"day-{n}") for n in (1, 3, 7)]


@pytest.fixture
def course(db):
    return CourseFactory(external_id="onboarding-course")


def drip_spec(**schedule):
    return {
        "name": "Onboarding",
        "channel": "email",
        "audience": {"filter": {}},
        "holdout_percent": 0,
        "schedule": {
            "type": "drip",
            "anchor": "enrollment",
            "course": "onboarding-course",
            "steps": [
                {"template": "day-1", "delay_days": 1},
                {"template": "day-3", "delay_days": 3},
                {"template": "day-7", "delay_days": 7},
            ],
            **schedule,
        },
    }


def sent_to(user) -> list[str]:
    return list(
        Delivery.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list("template__slug", flat=True)
    )


def test_steps_go_at_their_delays_after_enrolment_and_the_learner_finishes(steps_templates, course):
    start = timezone.now()
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=course, enrolled_at=start)
    campaign = make_campaign(drip_spec())
    assert campaign.status == Campaign.Status.ACTIVE

    drip_dispatch_one(campaign_id=campaign.pk, now=start + datetime.timedelta(minutes=1))
    progress = DripProgress.objects.get(campaign=campaign, user=learner)
    assert (progress.step, progress.next_due_at) == (0, start + DAY)
    assert sent_to(learner) == []

    for day, expected in ((1, ["day-1"]), (2, ["day-1"]), (3, ["day-1", "day-3"])):
        drip_dispatch_one(campaign_id=campaign.pk, now=start + day * DAY)
        assert sent_to(learner) == expected
    drip_dispatch_one(campaign_id=campaign.pk, now=start + 7 * DAY)
    progress.refresh_from_db()
    assert sent_to(learner) == ["day-1", "day-3", "day-7"]
    assert (progress.step, progress.exit_reason) == (3, DripProgress.Exit.FINISHED)
    assert progress.next_due_at is None
    # Later minutes send nothing more.
    drip_dispatch_one(campaign_id=campaign.pk, now=start + 30 * DAY)
    assert len(sent_to(learner)) == 3


def test_a_late_entrant_starts_at_the_first_step_and_keeps_the_spacing(steps_templates, course):
    now = timezone.now()
    late = UserFactory()
    EnrollmentFactory(user=late, course=course, enrolled_at=now - 10 * DAY)
    campaign = make_campaign(drip_spec())

    drip_dispatch_one(campaign_id=campaign.pk, now=now)
    assert sent_to(late) == ["day-1"]  # not day-7 at once, and not nothing
    progress = DripProgress.objects.get(campaign=campaign, user=late)
    assert progress.next_due_at == now + 2 * DAY  # day 3 is two days after day 1


def test_learners_without_the_anchor_wait_and_enter_when_they_enrol(steps_templates, course):
    now = timezone.now() - 10 * DAY
    learner = UserFactory()
    campaign = make_campaign(drip_spec())
    drip_dispatch_one(campaign_id=campaign.pk, now=now)
    assert not DripProgress.objects.filter(user=learner).exists()
    EnrollmentFactory(user=learner, course=course, enrolled_at=now + DAY)
    drip_dispatch_one(campaign_id=campaign.pk, now=now + DAY)
    assert DripProgress.objects.get(user=learner).next_due_at == now + 2 * DAY


def test_exit_conditions_take_learners_out_with_the_reason(steps_templates, course):
    now = timezone.now()
    finisher, quitter, stayer = UserFactory(), UserFactory(), UserFactory()
    for learner in (finisher, quitter, stayer):
        EnrollmentFactory(user=learner, course=course, enrolled_at=now)
    campaign = make_campaign(drip_spec(exit=["completed", "unsubscribed"]))
    drip_dispatch_one(campaign_id=campaign.pk, now=now)

    Enrollment.objects.filter(user=finisher).update(status=Enrollment.Status.COMPLETED)
    ChannelOptOut.objects.create(user=quitter, channel="email")
    drip_dispatch_one(campaign_id=campaign.pk, now=now + DAY)

    reasons = dict(DripProgress.objects.values_list("user_id", "exit_reason"))
    assert reasons == {finisher.pk: "completed", quitter.pk: "unsubscribed", stayer.pk: ""}
    assert sent_to(finisher) == [] and sent_to(quitter) == []
    assert sent_to(stayer) == ["day-1"]


def test_a_learner_who_leaves_the_audience_exits(steps_templates, course):
    now = timezone.now()
    paris = UserFactory(timezone="Europe/Paris")
    EnrollmentFactory(user=paris, course=course, enrolled_at=now)
    spec = drip_spec(exit=["left_audience"])
    spec["audience"] = {"filter": {"field": "timezone", "op": "=", "value": "Europe/Paris"}}
    campaign = make_campaign(spec)
    drip_dispatch_one(campaign_id=campaign.pk, now=now)
    assert DripProgress.objects.get(user=paris).exited_at is None

    paris.timezone = "Asia/Tokyo"
    paris.save()
    drip_dispatch_one(campaign_id=campaign.pk, now=now + DAY)
    progress = DripProgress.objects.get(user=paris)
    assert progress.exit_reason == DripProgress.Exit.LEFT_AUDIENCE
    assert sent_to(paris) == []


def test_editing_a_running_drip_changes_only_the_steps_not_yet_sent(steps_templates, course):
    now = timezone.now()
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=course, enrolled_at=now)
    campaign = make_campaign(drip_spec())
    drip_dispatch_one(campaign_id=campaign.pk, now=now)
    drip_dispatch_one(campaign_id=campaign.pk, now=now + DAY)
    assert sent_to(learner) == ["day-1"]

    MessageTemplateFactory(slug="day-5")
    edited = drip_spec()["schedule"]
    edited["steps"] = [
        {"template": "day-1", "delay_days": 2},  # already sent: not sent again
        {"template": "day-5", "delay_days": 5},
    ]
    campaign_update(campaign=campaign, spec={"schedule": edited}, actor=None)
    progress = DripProgress.objects.get(user=learner)
    assert progress.next_due_at == now + 5 * DAY

    drip_dispatch_one(campaign_id=campaign.pk, now=now + 3 * DAY)
    assert sent_to(learner) == ["day-1"]  # the old day-3 step is gone
    drip_dispatch_one(campaign_id=campaign.pk, now=now + 5 * DAY)
    progress.refresh_from_db()
    assert sent_to(learner) == ["day-1", "day-5"]
    assert progress.exit_reason == DripProgress.Exit.FINISHED


def test_a_drip_dispatched_twice_in_the_same_minute_sends_once(steps_templates, course):
    now = timezone.now()
    learners = [UserFactory() for _ in range(3)]
    for learner in learners:
        EnrollmentFactory(user=learner, course=course, enrolled_at=now - DAY)
    make_campaign(drip_spec())
    drips_dispatch(now=now)
    drips_dispatch(now=now)
    assert Delivery.objects.count() == 3
    run = Campaign.objects.get().runs.get()
    assert (run.targeted, run.queued) == (3, 3)


def test_a_paused_drip_sends_nothing_and_resumes_where_it_was(steps_templates, course):
    from campaigns.services.campaigns import campaign_pause, campaign_resume

    now = timezone.now()
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=course, enrolled_at=now - DAY)
    campaign = make_campaign(drip_spec())
    campaign_pause(campaign=campaign, actor=None)
    drips_dispatch(now=now)
    assert sent_to(learner) == []
    campaign_resume(campaign=campaign, actor=None)
    drips_dispatch(now=now)
    assert sent_to(learner) == ["day-1"]


def test_a_drip_whose_step_template_is_switched_off_says_so_once(steps_templates, course):
    now = timezone.now()
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=course, enrolled_at=now - DAY)
    campaign = make_campaign(drip_spec())
    steps_templates[0].is_active = False
    steps_templates[0].save()
    drips_dispatch(now=now)
    drips_dispatch(now=now + datetime.timedelta(minutes=1))
    errors = campaign.log.filter(action="error")
    assert errors.count() == 1
    assert "switched off" in errors.get().detail
    assert sent_to(learner) == []
