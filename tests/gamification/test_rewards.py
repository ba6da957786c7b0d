"""Rewards: the default catalogue, grants and uses recorded once per key, caps, the inventory,
and granting from the admin through the service."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.errors import DomainValidationError
from gamification.models import Moment, Reward, RewardGrant, RewardUse
from gamification.selectors.rewards import reward_inventory
from gamification.services.rewards import reward_grant, reward_use
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def grant(user, code: str, quantity: int = 1, key: str = "k1", **kwargs):
    return reward_grant(
        user_id=user.pk,
        reward_code=code,
        quantity=quantity,
        source=kwargs.pop("source", "staff"),
        reason=kwargs.pop("reason", "welcome gift"),
        idempotency_key=key,
        **kwargs,
    )


def held(user) -> dict[str, int]:
    return {item.code: item.held for item in reward_inventory(user.pk)}


def test_the_default_catalogue_has_a_freeze_a_discount_code_and_early_access():
    rewards = {r.kind: r for r in Reward.objects.all()}

    assert set(rewards) == {"streak_freeze", "discount_code", "early_access"}
    assert rewards["streak_freeze"].code == "streak_freeze"
    assert rewards["streak_freeze"].max_held == 2
    assert rewards["discount_code"].value  # an example code to hand out


def test_a_grant_is_recorded_once_per_key_and_shows_in_the_inventory():
    learner = UserFactory()

    first = grant(learner, "discount-10", 2, key="promo:1")
    replay = grant(learner, "discount-10", 2, key="promo:1")

    assert (first.granted, first.held, first.replayed) == (2, 2, False)
    assert (replay.granted, replay.held, replay.replayed) == (2, 2, True)
    assert RewardGrant.objects.filter(user=learner).count() == 1
    assert held(learner) == {"discount-10": 2}
    [item] = reward_inventory(learner.pk)
    assert (item.name, item.value, item.kind) == (
        "10% off your next course",
        "STRIDE10",
        "discount_code",
    )
    moment = Moment.objects.get(user=learner, kind="reward_granted")
    assert "10% off" in moment.title


def test_a_use_spends_one_unit_once_per_key_and_none_left_is_refused():
    learner = UserFactory()
    grant(learner, "early-access")

    used = reward_use(user_id=learner.pk, reward_code="early-access", idempotency_key="u1")
    replay = reward_use(user_id=learner.pk, reward_code="early-access", idempotency_key="u1")

    assert (used.used, used.held, replay.replayed) == (True, 0, True)
    assert RewardUse.objects.filter(user=learner).count() == 1
    assert held(learner) == {}
    with pytest.raises(DomainValidationError) as error:
        reward_use(user_id=learner.pk, reward_code="early-access", idempotency_key="u2")
    assert "reward" in error.value.fields


def test_the_cap_limits_what_a_learner_holds_and_the_request_is_kept():
    learner = UserFactory()

    capped = grant(learner, "streak_freeze", 3, key="f1")

    assert (capped.requested, capped.granted, capped.held, capped.capped) == (3, 2, 2, True)
    row = RewardGrant.objects.get(idempotency_key="f1")
    assert (row.quantity, row.requested_quantity) == (2, 3)
    nothing = grant(learner, "streak_freeze", 1, key="f2")
    assert (nothing.granted, nothing.held) == (0, 2)
    assert Moment.objects.filter(user=learner, kind="reward_granted").count() == 1
    assert held(learner) == {"streak_freeze": 2}


def test_bad_grants_and_uses_name_the_field():
    learner, other = UserFactory(), UserFactory()
    grant(learner, "discount-10", key="taken")
    cases = [
        (dict(reward_code="nope"), "reward"),
        (dict(quantity=0), "quantity"),
        (dict(key=""), "idempotency_key"),
        (dict(source=""), "source"),
    ]
    for overrides, field in cases:
        kwargs = {"code": "discount-10", "key": "fresh", **overrides}
        code = kwargs.pop("reward_code", kwargs.pop("code"))
        with pytest.raises(DomainValidationError) as error:
            grant(learner, code, **kwargs)
        assert field in error.value.fields, overrides
    with pytest.raises(DomainValidationError) as error:
        grant(other, "discount-10", key="taken")  # one key, another learner
    assert "idempotency_key" in error.value.fields
    Reward.objects.filter(code="early-access").update(is_active=False)
    with pytest.raises(DomainValidationError) as error:
        grant(learner, "early-access", key="off")
    assert "reward" in error.value.fields


def test_staff_grant_a_reward_to_learners_from_the_admin_with_a_reason(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    first, second = UserFactory(), UserFactory(external_id="ext-42")
    reward = Reward.objects.get(code="streak_freeze")
    url = reverse("admin:gamification_reward_changelist")
    chosen = {"action": "grant_to_learners", "_selected_action": [reward.pk]}

    page = client.post(url, chosen)
    assert page.status_code == 200
    assert b"Grant Streak freeze" in page.content
    key = page.context["form"].initial["request_key"]

    unknown = client.post(
        url,
        {
            **chosen,
            "apply": "1",
            "learners": "nobody@example.com",
            "reason": "x",
            "quantity": 1,
            "request_key": key,
        },
    )
    assert b"No learner has this email or external id: nobody@example.com" in unknown.content

    form = {
        **chosen,
        "apply": "1",
        "learners": f"{first.email}\next-42",
        "reason": "Make-up for the outage",
        "quantity": 1,
        "request_key": key,
    }
    assert client.post(url, form).status_code == 302
    assert client.post(url, form).status_code == 302  # sent twice: granted once

    grants = RewardGrant.objects.filter(reward=reward).order_by("user_id")
    assert [(g.user, g.quantity, g.reason, g.granted_by) for g in grants] == [
        (first, 1, "Make-up for the outage", staff_user),
        (second, 1, "Make-up for the outage", staff_user),
    ]


def test_grants_and_uses_are_read_only_in_the_admin(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    learner = UserFactory()
    grant(learner, "early-access")
    reward_use(user_id=learner.pk, reward_code="early-access", idempotency_key="u1")
    use = RewardUse.objects.get()

    listing = client.get(
        reverse("admin:gamification_rewardgrant_changelist") + "?q=" + learner.email
    )
    assert listing.status_code == 200 and learner.email.encode() in listing.content
    assert client.get(reverse("admin:gamification_rewardgrant_add")).status_code == 403
    assert (
        client.post(reverse("admin:gamification_rewarduse_change", args=[use.pk]), {}).status_code
        == 403
    )
