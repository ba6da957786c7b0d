"""Experiments on a campaign's arms: each recipient is sent their arm's template, the sends
are the exposures, the results compare the arms, and the winner becomes the campaign's."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Experiment, Exposure
from campaigns.selectors.experiments import experiment_results
from campaigns.services.experiments import (
    experiment_create,
    experiment_start,
    experiment_stop,
    exposures_from_deliveries,
)
from core.assignment import variant_assign
from core.errors import DomainValidationError
from interventions.models import Delivery, Rule
from interventions.services.rules import rules_apply_to_run
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import make_campaign, one_time_spec, run_due
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import MessageTemplateFactory, default_template

pytestmark = pytest.mark.django_db


def _spec(target, **overrides):
    spec = {
        "key": "announcement-tone",
        "kind": "campaign",
        "campaign": target.pk,
        "variants": [
            {"key": "control", "weight": 1, "template": "nudge"},
            {"key": "bold", "weight": 1, "template": "nudge-bold"},
        ],
        "primary_metric": {"kind": "binomial", "measure": "opened"},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def bold(template):
    return MessageTemplateFactory(slug="nudge-bold", name="Nudge, bold")


def test_each_recipient_gets_their_arms_template_and_the_sends_are_the_exposures(bold):
    learners = [UserFactory(timezone="UTC") for _ in range(60)]
    campaign = make_campaign(one_time_spec())
    experiment = experiment_start(
        experiment=experiment_create(spec=_spec(campaign), actor=None), actor=None
    )

    (run,) = run_due(campaign.starts_at)

    sent = dict(Delivery.objects.filter(source=run.source).values_list("user_id", "template__slug"))
    assert len(sent) == 60
    expected = {
        u.pk: {"control": "nudge", "bold": "nudge-bold"}[
            variant_assign(experiment.key, u.pk, [("control", 1), ("bold", 1)])
        ]
        for u in learners
    }
    assert sent == expected
    assert set(sent.values()) == {"nudge", "nudge-bold"}  # both arms are in use

    # The messages go out; the bold arm's are all opened, the control's never.
    at = timezone.now()
    Delivery.objects.filter(source=run.source).update(sent_at=at)
    Delivery.objects.filter(source=run.source, template=bold).update(opened_at=at)
    assert exposures_from_deliveries(experiment=experiment) == 60
    assert exposures_from_deliveries(experiment=experiment) == 0  # logged once
    arms = dict(Exposure.objects.filter(experiment=experiment).values_list("user_id", "variant"))
    assert {
        uid: {"control": "nudge", "bold": "nudge-bold"}[arm] for uid, arm in arms.items()
    } == sent

    results = experiment_results(experiment=experiment, now=at + datetime.timedelta(days=1))
    control, treatment = results.primary.variants
    n_bold = sum(1 for slug in sent.values() if slug == "nudge-bold")
    assert (control["users"], control["conversions"]) == (60 - n_bold, 0)
    assert (treatment["users"], treatment["conversions"]) == (n_bold, n_bold)

    experiment_stop(experiment=experiment, actor=None, winner="bold", reason="Opened more.")
    campaign.refresh_from_db()
    assert campaign.template == bold  # the winner gets all traffic from the next run


def test_arm_mistakes_are_named_and_one_experiment_runs_per_campaign(bold):
    campaign = make_campaign(one_time_spec())
    with pytest.raises(DomainValidationError) as same:
        experiment_create(
            spec=_spec(
                campaign,
                variants=[
                    {"key": "control", "template": "nudge"},
                    {"key": "b", "template": "nudge"},
                ],
            ),
            actor=None,
        )
    assert "variants[1].template" in same.value.fields
    with pytest.raises(DomainValidationError) as unknown:
        experiment_create(
            spec=_spec(
                campaign,
                variants=[{"key": "control", "template": "nudge"}, {"key": "b", "template": "x"}],
            ),
            actor=None,
        )
    assert "variants[1].template" in unknown.value.fields
    with pytest.raises(DomainValidationError) as nameless:
        experiment_create(spec=_spec(campaign, campaign=None), actor=None)
    assert "campaign" in nameless.value.fields

    experiment_start(experiment=experiment_create(spec=_spec(campaign), actor=None), actor=None)
    second = experiment_create(spec=_spec(campaign, key="another-tone"), actor=None)
    with pytest.raises(DomainValidationError) as busy:
        experiment_start(experiment=second, actor=None)
    assert busy.value.code == "conflict" and "campaign" in busy.value.fields
    assert Experiment.objects.get(pk=second.pk).status == Experiment.Status.DRAFT


def test_the_api_creates_a_campaign_experiment(make_key, bold):
    campaign = make_campaign(one_time_spec())
    client = make_key("experiments:read", "experiments:write")
    created = client.post("/api/v1/experiments/", _spec(campaign), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["campaign"] == campaign.pk
    assert created.json()["variants"][1]["template"] == "nudge-bold"
    missing = client.post(
        "/api/v1/experiments/", _spec(campaign, key="other", campaign=10**9), format="json"
    )
    assert missing.status_code == 400 and "campaign" in missing.json()["fields"]


def test_the_pages_link_campaigns_templates_and_their_experiments(client, admin_user, bold):
    campaign = make_campaign(one_time_spec())
    experiment = experiment_create(spec=_spec(campaign), actor=None)
    client.force_login(admin_user)

    campaign_page = client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode()
    assert f'href="/dashboard/experiments/{experiment.key}/"' in campaign_page
    experiment_page = client.get(f"/dashboard/experiments/{experiment.key}/").content.decode()
    assert f'href="/dashboard/campaigns/{campaign.pk}/"' in experiment_page
    assert "sends <code>nudge-bold</code>" in experiment_page

    by_campaign = client.get(f"/dashboard/experiments/?campaign={campaign.pk}").content.decode()
    assert experiment.key in by_campaign
    other = make_campaign(one_time_spec())
    empty = client.get(f"/dashboard/experiments/?campaign={other.pk}").content.decode()
    assert experiment.key not in empty and "No experiments on this campaign yet" in empty

    template_admin = client.get(f"/admin/interventions/messagetemplate/{bold.pk}/change/")
    assert "/dashboard/experiments/?template=nudge-bold" in template_admin.content.decode()


def test_a_templates_experiments_include_those_where_it_is_a_campaigns_arm(
    client, admin_user, bold
):
    campaign = make_campaign(one_time_spec())
    experiment = experiment_create(spec=_spec(campaign), actor=None)
    client.force_login(admin_user)
    listed = client.get("/dashboard/experiments/?template=nudge-bold").content.decode()
    assert f'href="/dashboard/experiments/{experiment.key}/"' in listed
    MessageTemplateFactory(slug="unused")
    unused = client.get("/dashboard/experiments/?template=unused").content.decode()
    assert experiment.key not in unused and "No experiments on this template yet" in unused


# --- an automated rule's arms -----------------------------------------------------------------


def _rule_spec(rule, **overrides):
    spec = {
        "key": "reminder-warmth",
        "kind": "rule",
        "rule": rule.pk,
        "variants": [
            {"key": "control", "weight": 1, "template": "gentle-reminder"},
            {"key": "warm", "weight": 1, "template": "warm-reminder"},
        ],
        "primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 7},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def reminder_rule(db):
    MessageTemplateFactory(slug="warm-reminder", name="Warm reminder")
    return Rule.objects.create(
        holdout_percent=0,
        name="Remind",
        levels=["medium", "high"],
        intervention_type="gentle_reminder",
        template=default_template("gentle-reminder"),
    )


def _scored(n: int):
    run = make_run(timezone.localdate())
    learners = [UserFactory() for _ in range(n)]
    for learner in learners:
        score = make_score(run, learner, 55)
        score.recommendations = [{"code": "gentle_reminder", "label": "x", "reason": "test"}]
        score.save(update_fields=["recommendations"])
    return run, learners


def test_a_rule_sends_each_learner_their_arms_template_while_the_experiment_runs(reminder_rule):
    run, learners = _scored(40)
    experiment = experiment_start(
        experiment=experiment_create(spec=_rule_spec(reminder_rule), actor=None), actor=None
    )

    assert sum(rules_apply_to_run(run).values()) == 40
    sent = dict(Delivery.objects.values_list("user_id", "template__slug"))
    arm_template = {"control": "gentle-reminder", "warm": "warm-reminder"}
    assert sent == {
        u.pk: arm_template[variant_assign(experiment.key, u.pk, [("control", 1), ("warm", 1)])]
        for u in learners
    }
    assert set(sent.values()) == set(arm_template.values())

    Delivery.objects.update(sent_at=timezone.now())
    assert exposures_from_deliveries(experiment=experiment) == 40
    exposed = dict(Exposure.objects.filter(experiment=experiment).values_list("user_id", "variant"))
    assert {uid: arm_template[arm] for uid, arm in exposed.items()} == sent

    experiment_stop(experiment=experiment, actor=None, winner="warm", reason="More came back.")
    reminder_rule.refresh_from_db()
    assert reminder_rule.template.slug == "warm-reminder"
    assert (reminder_rule.arms_key, reminder_rule.arms) == ("", [])


def test_a_rule_runs_one_experiment_and_goes_back_to_its_template_when_stopped(reminder_rule):
    experiment = experiment_start(
        experiment=experiment_create(spec=_rule_spec(reminder_rule), actor=None), actor=None
    )
    second = experiment_create(spec=_rule_spec(reminder_rule, key="another"), actor=None)
    with pytest.raises(DomainValidationError) as busy:
        experiment_start(experiment=second, actor=None)
    assert busy.value.code == "conflict" and "rule" in busy.value.fields

    experiment_stop(experiment=experiment, actor=None)
    reminder_rule.refresh_from_db()
    assert reminder_rule.template.slug == "gentle-reminder" and reminder_rule.arms_key == ""

    tasks = Rule.objects.create(
        name="Call them", levels=["critical"], intervention_type="human_outreach",
        creates_outreach_task=True,
    )  # fmt: skip
    with pytest.raises(DomainValidationError) as refused:
        experiment_create(spec=_rule_spec(tasks, key="calls"), actor=None)
    assert "rule" in refused.value.fields


def test_a_rule_experiments_page_links_the_rule(client, admin_user, reminder_rule):
    experiment = experiment_create(spec=_rule_spec(reminder_rule), actor=None)
    client.force_login(admin_user)
    page = client.get(f"/dashboard/experiments/{experiment.key}/").content.decode()
    assert f'href="/admin/interventions/rule/{reminder_rule.pk}/change/"' in page
    assert "sends <code>warm-reminder</code>" in page
