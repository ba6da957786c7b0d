"""The effectiveness report: contacted against held out, on a generated history whose effect
is known, recovers it within its interval; too few learners say so."""

from __future__ import annotations

import datetime
import random

import pytest
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign
from campaigns.selectors.effectiveness import effect_of_scope, effectiveness_report
from engagement.models import Event
from interventions.models import Delivery, Holdout
from interventions.services.deliveries import deliveries_queue
from tests.campaigns.conftest import make_campaign, one_time_spec

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def generous_caps(settings):
    settings.STRIDE_INTERVENTION_DAILY_CAP = 100
    settings.STRIDE_INTERVENTION_WEEKLY_CAP = 100


def _learners(n: int) -> list[int]:
    User.objects.bulk_create(
        User(email=f"e{i}@example.com", external_id=f"e-{i}", role="student") for i in range(n)
    )
    return list(User.objects.filter(external_id__startswith="e-").values_list("pk", flat=True))


def _history(campaign: Campaign, ids: list[int], at: datetime.datetime, rates: tuple[float, float]):
    """Queue the campaign's message at `at` with its holdout, then activity in the next two
    weeks at `rates` (held out, contacted)."""
    result = deliveries_queue(
        template=campaign.template,
        user_ids=ids,
        source=f"{campaign.source_prefix}run:1",
        now=at,
        holdout_scope=campaign.holdout_scope,
        holdout_share=campaign.holdout_percent / 100,
    )
    rng = random.Random(11)
    events = []
    for user_id in ids:
        rate = rates[0] if user_id in result.held_out else rates[1]
        if rng.random() < rate:
            events.append(
                Event(
                    source="t",
                    client_id=f"a-{user_id}",
                    type="lesson_completed",
                    user_id=user_id,
                    occurred_at=at + rng.uniform(0.5, 13) * DAY,
                )
            )
    Event.objects.bulk_create(events)
    return result


def test_a_known_effect_is_recovered_within_its_interval(template):
    campaign = make_campaign(one_time_spec(holdout_percent=30))
    ids = _learners(3000)
    at = timezone.now() - 40 * DAY
    result = _history(campaign, ids, at, rates=(0.40, 0.60))
    assert Holdout.objects.filter(scope=campaign.holdout_scope).count() == len(result.held_out)
    assert Delivery.objects.filter(created_at=at).count() == len(result.queued)

    effect = effect_of_scope(
        kind="campaign", key=str(campaign.pk), name=campaign.name, scope=campaign.holdout_scope
    )
    assert effect.held_out == len(result.held_out)
    assert effect.contacted == len(result.queued)
    active = effect.headline
    assert active["enough"] is True
    low, high = active["ci"]
    assert low < 0.5 < high  # the true relative uplift: 0.60 / 0.40 - 1
    assert active["p_value"] < 0.001
    lessons = next(o for o in effect.outcomes if o["name"] == "lessons_14")
    assert lessons["contacted_value"] > lessons["held_out_value"]


def test_outcomes_wait_for_their_window_and_say_when_data_is_short(template):
    campaign = make_campaign(one_time_spec(holdout_percent=30))
    ids = _learners(60)
    _history(campaign, ids, timezone.now() - 10 * DAY, rates=(0.5, 0.5))
    (effect,) = [e for e in effectiveness_report() if e.kind == "campaign"]
    by_name = {o["name"]: o for o in effect.outcomes}
    assert by_name["active_7"]["contacted"] == effect.contacted  # 7 days have passed
    assert by_name["active_14"]["contacted"] == 0  # 14 have not
    assert by_name["active_14"]["enough"] is False
    assert effect.enough is False


def test_the_page_ranks_what_has_data_and_says_what_has_not(template, client, staff_user):
    measured = make_campaign(one_time_spec(name="Measured", holdout_percent=30))
    young = make_campaign(one_time_spec(name="Young", holdout_percent=30))
    _history(measured, _learners(3000), timezone.now() - 40 * DAY, rates=(0.40, 0.60))
    deliveries_queue(
        template=young.template,
        user_ids=list(User.objects.values_list("pk", flat=True)[:50]),
        source=f"{young.source_prefix}run:1",
        holdout_scope=young.holdout_scope,
        holdout_share=0.3,
    )
    client.force_login(staff_user)
    html = client.get("/dashboard/effectiveness/").content.decode()
    assert html.index("Measured") < html.index("Young")
    assert "Not enough data yet" in html
    student = User.objects.filter(role="student").first()
    client.force_login(student)
    assert client.get("/dashboard/effectiveness/").status_code in (302, 403)


def test_the_page_explains_holdouts_when_there_are_none(client, staff_user):
    client.force_login(staff_user)
    assert "Nothing held out yet" in client.get("/dashboard/effectiveness/").content.decode()
