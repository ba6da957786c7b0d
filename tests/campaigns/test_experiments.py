"""Experiments: design checks, deterministic sticky assignment with its exposure log, results
from learners' events in SQL, the sample ratio check, exclusion of learners exposed twice,
guardrails and the auto-winner with its audit record."""

from __future__ import annotations

import datetime
import random

import pytest
from django.utils import timezone

from accounts.models import User
from campaigns.models import Experiment, ExperimentLog, Exposure
from campaigns.services.experiments import (
    assignment_get,
    experiment_create,
    experiment_decide,
    experiment_start,
    experiment_stop,
    exposures_from_deliveries,
)
from campaigns.statistics import ProportionStatistic, ttest
from core.assignment import variant_assign
from core.errors import DomainValidationError
from engagement.models import Event
from interventions.models import ChannelOptOut, Delivery, Variant
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SPEC = {
    "key": "reminder-copy",
    "variants": [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
    "primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 7},
}


def _learners(n: int) -> list[User]:
    User.objects.bulk_create(
        User(email=f"x{i}@example.com", external_id=f"x-{i}", role="student", timezone="UTC")
        for i in range(n)
    )
    return list(User.objects.filter(external_id__startswith="x-").order_by("pk"))


def _expose(experiment: Experiment, rows: list[tuple[User, str]], at: datetime.datetime) -> None:
    Exposure.objects.bulk_create(
        Exposure(experiment=experiment, user=u, variant=v, exposed_at=at, source="assignment")
        for u, v in rows
    )


def _complete(users: list[User], at: datetime.datetime, event: str = "lesson_completed") -> None:
    Event.objects.bulk_create(
        Event(source="t", client_id=f"{event}-{u.pk}-{at:%s}", type=event, user=u, occurred_at=at)
        for u in users
    )


def _running(spec=SPEC, *, days_ago: float = 8) -> Experiment:
    experiment = experiment_start(experiment=experiment_create(spec=spec, actor=None), actor=None)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=timezone.now() - days_ago * DAY)
    experiment.refresh_from_db()
    return experiment


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"key": "Not A Slug"}, "key"),
        ({"variants": [{"key": "only"}]}, "variants"),
        ({"variants": [{"key": "a"}, {"key": "a"}]}, "variants[1].key"),
        ({"variants": [{"key": "a"}, {"key": "b", "weight": 0}]}, "variants[1].weight"),
        ({"primary_metric": {"kind": "ratio"}}, "primary_metric.kind"),
        ({"primary_metric": {"kind": "binomial", "event": "nope"}}, "primary_metric.event"),
        (
            {"primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 0}},
            "primary_metric.window_days",
        ),
        ({"primary_metric": {"kind": "binomial", "measure": "opened"}}, "primary_metric.measure"),
        (
            {"guardrail_metrics": [{"kind": "continuous", "measure": "retained"}]},
            "guardrail_metrics[0].measure",
        ),
        ({"kind": "template", "template": "missing"}, "template"),
    ],
)
def test_design_mistakes_are_named_by_their_path(change, path):
    with pytest.raises(DomainValidationError) as caught:
        experiment_create(spec={**SPEC, **change}, actor=None)
    assert path in caught.value.fields, caught.value.fields


def test_assignment_is_deterministic_sticky_weighted_and_logged_once():
    experiment = _running()
    learners = _learners(2000)
    first = [assignment_get(experiment=experiment, user=u) for u in learners]
    again = [assignment_get(experiment=experiment, user=u) for u in learners]
    assert first == again
    assert first == [
        variant_assign("reminder-copy", u.pk, [("control", 50), ("b", 50)]) for u in learners
    ]
    share_b = first.count("b") / len(first)
    assert 0.46 < share_b < 0.54
    assert Exposure.objects.filter(experiment=experiment).count() == 2000


def test_a_draft_assigns_nobody():
    experiment = experiment_create(spec=SPEC, actor=None)
    with pytest.raises(DomainValidationError) as caught:
        assignment_get(experiment=experiment, user=UserFactory())
    assert caught.value.code == "conflict"


def test_results_count_each_variants_conversions_within_the_window():
    experiment = _running()
    learners = _learners(400)
    exposed_at = timezone.now() - 6 * DAY
    control, treatment = learners[:200], learners[200:]
    _expose(
        experiment, [(u, "control") for u in control] + [(u, "b") for u in treatment], exposed_at
    )
    _complete(control[:40], exposed_at + DAY)
    _complete(control[40:50], exposed_at - DAY)  # before exposure: not counted
    _complete(treatment[:70], exposed_at + 2 * DAY)
    _complete(treatment[70:80], exposed_at + 8 * DAY)  # after the 7-day window

    results = experiment_decide(experiment=experiment)
    control_row, b_row = results.primary.variants
    assert (control_row["users"], control_row["conversions"]) == (200, 40)
    assert (b_row["users"], b_row["conversions"]) == (200, 70)
    # The earlier completions are the covariate (CUPED): the uplift is adjusted for them,
    # close to the raw 70/40 - 1 = +75%.
    assert 0.6 < b_row["uplift"] < 0.9
    assert b_row["ci"][0] < b_row["uplift"] < b_row["ci"][1]
    assert b_row["p_value"] < 0.05
    assert b_row["chance_to_win"] > 0.95
    assert results.srm_flagged is False
    # Too early for the rule: fewer than 500 learners per variant.
    assert results.decision_status == "too_early"


def test_without_prior_activity_the_results_are_the_plain_two_proportion_test():
    experiment = _running()
    learners = _learners(400)
    at = timezone.now() - 6 * DAY
    _expose(
        experiment,
        [(u, "control") for u in learners[:200]] + [(u, "b") for u in learners[200:]],
        at,
    )
    _complete(learners[:40] + learners[200:270], at + DAY)
    b_row = experiment_decide(experiment=experiment).primary.variants[1]
    expected = ttest(
        ProportionStatistic(n=200, conversions=40), ProportionStatistic(n=200, conversions=70)
    )
    assert b_row["uplift"] == pytest.approx(0.75, abs=1e-6)
    assert b_row["ci"] == pytest.approx([float(expected.ci_low), float(expected.ci_high)], abs=1e-4)
    assert b_row["p_value"] == pytest.approx(float(expected.p_value), abs=1e-4)


def test_learners_exposed_to_two_variants_are_left_out():
    experiment = _running()
    learners = _learners(10)
    at = timezone.now() - DAY
    _expose(
        experiment, [(u, "control") for u in learners[:5]] + [(u, "b") for u in learners[5:]], at
    )
    _expose(experiment, [(learners[0], "b")], at)
    results = experiment_decide(experiment=experiment)
    assert results.multiple_exposures == 1
    assert results.users == {"control": 4, "b": 5}


def test_a_skewed_split_is_flagged_and_blocks_any_decision():
    experiment = _running({**SPEC, "auto_winner": True})
    learners = _learners(1400)
    at = timezone.now() - 7.5 * DAY
    _expose(
        experiment,
        [(u, "control") for u in learners[:600]] + [(u, "b") for u in learners[600:]],
        at,
    )
    _complete(learners[600:1100], at + DAY)  # b "wins" by a mile, but the split is off
    results = experiment_decide(experiment=experiment)
    assert results.srm_flagged is True
    assert results.decision_status == "srm"
    experiment.refresh_from_db()
    assert experiment.winner == ""


def _strong_effect(experiment: Experiment, n: int = 600) -> list[User]:
    learners = _learners(2 * n)
    at = timezone.now() - 7.5 * DAY
    rng = random.Random(4)
    rows = [(u, "control" if i % 2 == 0 else "b") for i, u in enumerate(learners)]
    _expose(experiment, rows, at)
    _complete([u for u, v in rows if rng.random() < (0.10 if v == "control" else 0.30)], at + DAY)
    return learners


def test_the_auto_winner_gives_the_winner_all_traffic_with_an_audit_record():
    experiment = _running({**SPEC, "auto_winner": True})
    _strong_effect(experiment)
    results = experiment_decide(experiment=experiment)
    assert results.decision_status == "winner"
    experiment.refresh_from_db()
    assert experiment.winner == "b"
    assert "chance to win" in experiment.decision
    assert experiment.log.filter(action="decided").exists()
    newcomer = UserFactory()
    assert assignment_get(experiment=experiment, user=newcomer) == "b"


def test_a_hurt_guardrail_blocks_the_auto_winner():
    spec = {
        **SPEC,
        "auto_winner": True,
        "guardrail_metrics": [
            {"kind": "binomial", "measure": "unsubscribed", "lower_is_better": True}
        ],
    }
    experiment = _running(spec)
    learners = _strong_effect(experiment)
    treated = [u for i, u in enumerate(learners) if i % 2 == 1]
    controls = [u for i, u in enumerate(learners) if i % 2 == 0]
    ChannelOptOut.objects.bulk_create(
        [ChannelOptOut(user=u, channel="email") for u in treated[:150]]
        + [ChannelOptOut(user=u, channel="email") for u in controls[:20]]
    )
    results = experiment_decide(experiment=experiment)
    assert results.decision_status != "winner"
    assert any("unsubscribed" in reason for reason in results.decision_reasons)
    experiment.refresh_from_db()
    assert experiment.winner == ""


def test_a_continuous_metric_reports_means():
    spec = {
        **SPEC,
        "primary_metric": {"kind": "continuous", "event": "lesson_completed", "window_days": 14},
    }
    experiment = _running(spec)
    learners = _learners(40)
    at = timezone.now() - 3 * DAY
    _expose(
        experiment, [(u, "control") for u in learners[:20]] + [(u, "b") for u in learners[20:]], at
    )
    for k in range(3):  # b learners complete three lessons each, control one each
        _complete(learners[20:], at + (k + 1) * datetime.timedelta(hours=5))
    _complete(learners[:20], at + datetime.timedelta(hours=2))
    results = experiment_decide(experiment=experiment)
    means = {row["key"]: row["mean"] for row in results.primary.variants}
    assert means == {"control": 1.0, "b": 3.0}


def test_a_template_experiment_takes_its_exposures_from_the_sends():
    template = MessageTemplateFactory(slug="tone")
    calm = Variant.objects.create(template=template, name="calm", weight=1)
    bold = Variant.objects.create(template=template, name="bold", weight=1)
    spec = {
        "key": "tone-test",
        "kind": "template",
        "template": "tone",
        "variants": [{"key": "control", "variant": "calm"}, {"key": "bold", "variant": "bold"}],
        "primary_metric": {"kind": "binomial", "measure": "clicked"},
    }
    experiment = _running(spec, days_ago=2)
    a, b = UserFactory(), UserFactory()
    sent = timezone.now() - DAY
    for user, variant, clicked in ((a, calm, None), (b, bold, sent)):
        Delivery.objects.create(
            user=user,
            template=template,
            variant=variant,
            channel="email",
            source="s",
            status="sent",
            sent_at=sent,
            clicked_at=clicked,
        )
    assert exposures_from_deliveries(experiment=experiment) == 2
    assert exposures_from_deliveries(experiment=experiment) == 0  # once each
    results = experiment_decide(experiment=experiment)
    assert {r["key"]: r["conversions"] for r in results.primary.variants} == {
        "control": 0,
        "bold": 1,
    }

    experiment_stop(experiment=experiment, actor=None, winner="bold", reason="Clicks.")
    assert Variant.objects.get(pk=calm.pk).weight == 0
    assert Variant.objects.get(pk=bold.pk).weight == 1


def test_api_create_start_assign_results_and_stop(make_key):
    client = make_key("experiments:read", "experiments:write")
    UserFactory(external_id="learner-api")
    created = client.post("/api/v1/experiments/", SPEC, format="json")
    assert created.status_code == 201, created.json()
    assert (
        client.get("/api/v1/experiments/reminder-copy/assignment/?user=learner-api").status_code
        == 409
    )
    assert client.post("/api/v1/experiments/reminder-copy/start/").json()["status"] == "running"
    assigned = client.get("/api/v1/experiments/reminder-copy/assignment/?user=learner-api").json()
    assert assigned["variant"] in ("control", "b")
    missing = client.get("/api/v1/experiments/reminder-copy/assignment/?user=nobody")
    assert missing.status_code == 400 and "user" in missing.json()["fields"]
    results = client.get("/api/v1/experiments/reminder-copy/results/").json()
    assert results["users"][assigned["variant"]] == 1
    assert {row["key"] for row in results["variants"]} == {"control", "b"}
    frozen = client.patch("/api/v1/experiments/reminder-copy/", {"variants": []}, format="json")
    assert frozen.status_code == 409
    stopped = client.post(
        "/api/v1/experiments/reminder-copy/stop/", {"winner": "b", "reason": "Test"}, format="json"
    )
    assert stopped.json()["winner"] == "b"
    reader = make_key("experiments:read")
    assert reader.post("/api/v1/experiments/", SPEC, format="json").status_code == 403


def test_api_refuses_odd_bodies_with_a_named_reason_and_never_a_500(make_key):
    client = make_key("experiments:read", "experiments:write")
    client.post("/api/v1/experiments/", SPEC, format="json")
    # Unknown keys are ignored (as DRF does), even one PostgreSQL could not store.
    edited = client.patch(
        "/api/v1/experiments/reminder-copy/",
        {"\x00odd": {}, "hypothesis": "Shorter copy is read more."},
        format="json",
    )
    assert edited.status_code == 200, edited.json()
    assert ExperimentLog.objects.filter(
        experiment__key="reminder-copy", detail="hypothesis"
    ).exists()
    nul = client.patch("/api/v1/experiments/reminder-copy/", {"name": "a\x00b"}, format="json")
    assert nul.status_code == 400 and "name" in nul.json()["fields"]
    client.post("/api/v1/experiments/reminder-copy/start/")
    for body in ("null", "[1]", '"stop"'):
        refused = client.post(
            "/api/v1/experiments/reminder-copy/stop/", body, content_type="application/json"
        )
        assert refused.status_code == 400, (body, refused.json())
    assert Experiment.objects.get(key="reminder-copy").status == Experiment.Status.RUNNING
    wrong_type = client.post(
        "/api/v1/experiments/reminder-copy/stop/", {"reason": 5}, format="json"
    )
    assert wrong_type.status_code == 400 and "reason" in wrong_type.json()["fields"]
    assignment = client.get("/api/v1/experiments/reminder-copy/assignment/?user=a%00b")
    assert assignment.status_code == 400 and "user" in assignment.json()["fields"]
    assert client.post("/api/v1/experiments/reminder-copy/stop/").status_code == 200
