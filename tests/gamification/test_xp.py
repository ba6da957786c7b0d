"""XP awards, anti-cheat, staff grants and revocations, and totals rebuilt from the ledger."""

from __future__ import annotations

import datetime

import pytest

from core.errors import DomainValidationError
from gamification.models import LearnerGameProfile, Moment, XpRefusal, XpTransaction
from gamification.services.xp import xp_award, xp_grant, xp_revoke, xp_totals_rebuild
from tests.accounts.factories import UserFactory
from tests.gamification.factories import (
    XpActionFactory,
    award,
    learner_with_xp,
    next_key,
)

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 10, 10, 0, tzinfo=datetime.UTC)


def seconds(n: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


def total_of(user) -> int:
    return LearnerGameProfile.objects.get(user=user).total_xp


# --- paying ----------------------------------------------------------------------------------


def test_an_award_pays_the_actions_default_amount_into_the_ledger_and_the_total():
    user = UserFactory()

    result = award(user, "lesson_completed", reference="lesson:1", at=T0)

    assert (result.awarded, result.refused_reason, result.total_xp) == (50, None, 50)
    assert (result.level, result.levelled_up, result.replayed) == (1, False, False)
    row = XpTransaction.objects.get(user=user)
    assert (row.kind, row.action.code, row.amount, row.reference) == (
        "award",
        "lesson_completed",
        50,
        "lesson:1",
    )
    assert (row.balance_after, row.level_after, row.local_date) == (50, 1, T0.date())
    assert total_of(user) == 50


def test_an_amount_overrides_the_default_and_must_be_a_positive_whole_number():
    user = UserFactory()
    assert award(user, "bonus", amount=75).awarded == 75
    for bad in (0, -5, 100_001, 2.5, True, "5"):
        with pytest.raises(DomainValidationError) as caught:
            award(user, "bonus", amount=bad)
        assert "amount" in caught.value.fields
    assert total_of(user) == 75


def test_crossing_a_threshold_levels_up_once_with_a_moment():
    user = learner_with_xp(240)  # level 2 (Apprentice) starts at 250

    first = award(user, "lesson_completed", reference="lesson:1")
    second = award(user, "lesson_completed", reference="lesson:2")

    assert (first.total_xp, first.level, first.levelled_up) == (290, 2, True)
    assert (second.level, second.levelled_up) == (2, False)
    moment = Moment.objects.get(user=user, kind="level_up")
    assert moment.data["level"] == 2 and moment.data["name"] == "Apprentice"
    assert moment.title == "Level 2: Apprentice"
    assert LearnerGameProfile.objects.get(user=user).level == 2


def test_unknown_action_or_learner_is_refused_naming_the_field():
    user = UserFactory()
    with pytest.raises(DomainValidationError) as caught:
        award(user, "no-such-action")
    assert list(caught.value.fields) == ["action"]
    with pytest.raises(DomainValidationError) as caught:
        xp_award(user_id=999_999, action_code="bonus", idempotency_key=next_key())
    assert list(caught.value.fields) == ["user"]
    assert not XpTransaction.objects.exists()
    assert not LearnerGameProfile.objects.filter(user_id=999_999).exists()


# --- idempotency -----------------------------------------------------------------------------


def test_a_replayed_key_answers_the_first_result_and_changes_nothing():
    user = learner_with_xp(200)
    first = award(user, "lesson_completed", reference="lesson:1", key="k-1")
    award(user, "lesson_completed", reference="lesson:2")  # more XP since

    again = award(user, "lesson_completed", reference="lesson:1", key="k-1")

    assert again.replayed
    assert (
        (again.awarded, again.total_xp, again.level, again.levelled_up)
        == (
            first.awarded,
            first.total_xp,
            first.level,
            first.levelled_up,
        )
        == (50, 250, 2, True)
    )
    assert XpTransaction.objects.filter(user=user, kind="award").count() == 2
    assert total_of(user) == 300


def test_a_key_used_for_another_learner_or_action_is_refused():
    user, other = UserFactory(), UserFactory()
    award(user, "bonus", key="shared")
    for who, action in ((other, "bonus"), (user, "daily_login")):
        with pytest.raises(DomainValidationError) as caught:
            award(who, action, key="shared")
        assert list(caught.value.fields) == ["idempotency_key"]
    assert XpTransaction.objects.count() == 1


# --- anti-cheat ------------------------------------------------------------------------------


def test_the_daily_cap_counts_the_learners_own_calendar_day():
    capped = XpActionFactory(daily_cap=2)
    # In January Auckland is UTC+13: 10:00Z is 23:00 local, 11:30Z is 00:30 the next day.
    kiwi = UserFactory(timezone="Pacific/Auckland")
    londoner = UserFactory(timezone="Europe/London")
    instants = [T0, T0 + seconds(1800), T0 + seconds(5400), T0 + seconds(2700)]

    kiwi_paid = [award(kiwi, capped, at=at).awarded for at in instants]
    london_paid = [award(londoner, capped, at=at).awarded for at in instants]

    # Auckland: two on the 10th, the third on the 11th, the fourth (23:45 on the 10th) over cap.
    assert kiwi_paid == [10, 10, 10, 0]
    assert london_paid == [10, 10, 0, 0]
    assert list(
        XpTransaction.objects.filter(user=kiwi)
        .order_by("occurred_at")
        .values_list("local_date", flat=True)
    ) == [datetime.date(2026, 1, 10)] * 2 + [datetime.date(2026, 1, 11)]
    refusal = XpRefusal.objects.get(user=kiwi)
    assert (refusal.reason, refusal.occurred_at) == ("daily_cap", instants[3])


def test_the_minimum_interval_applies_to_the_same_action_on_the_same_object_either_way():
    action = XpActionFactory(min_interval_seconds=180)
    user = UserFactory()

    results = [
        award(user, action, reference="quiz:1", at=T0).awarded,
        award(user, action, reference="quiz:1", at=T0 + seconds(60)).refused_reason,
        award(user, action, reference="quiz:2", at=T0 + seconds(60)).awarded,
        award(user, action, reference="quiz:1", at=T0 - seconds(100)).refused_reason,
        award(user, action, reference="quiz:1", at=T0 + seconds(180)).awarded,
    ]

    assert results == [10, "min_interval", 10, "min_interval", 10]
    assert total_of(user) == 30


def test_the_burst_limit_refuses_the_eleventh_award_within_a_minute():
    action = XpActionFactory(burst_limit=10, burst_window_seconds=60)
    exempt = XpActionFactory(burst_limit=None)
    user = UserFactory()

    paid = [award(user, action, at=T0 + seconds(i * 3)).awarded for i in range(11)]
    exempt_paid = award(user, exempt, at=T0 + seconds(35)).awarded
    later = award(user, action, at=T0 + seconds(61))

    assert paid == [10] * 10 + [0]
    assert exempt_paid == 10  # actions without a limit are neither limited nor counted
    assert later.awarded == 10  # the first award has left the window
    assert list(XpRefusal.objects.filter(user=user).values_list("reason", flat=True)) == ["burst"]


def test_a_late_award_counts_toward_the_burst_like_the_others():
    action = XpActionFactory(burst_limit=10, burst_window_seconds=60)
    user = UserFactory()
    for i in range(10):
        award(user, action, at=T0 + seconds(10 + i * 3))

    late = award(user, action, at=T0)  # arrives last, but happened just before them
    long_before = award(user, action, at=T0 - seconds(60))

    assert late.refused_reason == "burst"
    assert long_before.awarded == 10


def test_a_refusal_is_kept_and_its_replay_answers_the_same_even_once_it_would_pay():
    action = XpActionFactory(daily_cap=1)
    user = UserFactory()
    award(user, action, at=T0)

    refused = award(user, action, at=T0 + seconds(60), key="late")
    action.daily_cap = None
    action.save()
    replayed = award(user, action, at=T0 + seconds(60), key="late")

    assert (refused.awarded, refused.refused_reason, refused.total_xp) == (0, "daily_cap", 10)
    assert replayed.replayed
    assert (replayed.awarded, replayed.refused_reason, replayed.total_xp) == (0, "daily_cap", 10)
    assert XpRefusal.objects.filter(user=user).count() == 1
    assert total_of(user) == 10


def test_once_only_actions_pay_once_per_learner_or_per_object():
    user = UserFactory()
    first_review = [award(user, "first_review", at=T0 + seconds(i * 600)) for i in range(2)]
    lessons = [
        award(user, "lesson_completed", reference="lesson:1", at=T0),
        award(user, "lesson_completed", reference="lesson:1", at=T0 + datetime.timedelta(days=9)),
        award(user, "lesson_completed", reference="lesson:2", at=T0),
    ]

    assert [r.awarded for r in first_review] == [50, 0]
    assert first_review[1].refused_reason == "already_earned"
    assert [r.awarded for r in lessons] == [50, 0, 50]
    assert total_of(user) == 150


def test_odd_references_are_matched_exactly():
    user = UserFactory()
    odd = 'quiz:"a",{b}\\c NULL'

    first = award(user, "quiz_perfect", reference=odd)
    again = award(user, "quiz_perfect", reference=odd)
    other = award(user, "quiz_perfect", reference='quiz:"a",{b}c NULL')

    assert (first.awarded, again.refused_reason, other.awarded) == (150, "already_earned", 150)


def test_a_switched_off_action_pays_nothing():
    action = XpActionFactory(is_active=False)
    user = UserFactory()
    result = award(user, action)
    assert (result.awarded, result.refused_reason) == (0, "inactive")
    assert not XpTransaction.objects.filter(user=user).exists()


# --- staff grants and revocations ------------------------------------------------------------


def test_staff_grant_and_revoke_with_a_reason_and_the_total_follows():
    staff = UserFactory(is_staff=True)
    user = UserFactory()

    granted = xp_grant(
        user_id=user.pk,
        amount=300,
        reason="Hackathon winner",
        granted_by_id=staff.pk,
        idempotency_key="g-1",
    )
    revoked = xp_revoke(
        user_id=user.pk,
        amount=120,
        reason="Duplicate quiz credit",
        revoked_by_id=staff.pk,
        idempotency_key="r-1",
    )
    replayed = xp_grant(
        user_id=user.pk,
        amount=300,
        reason="Hackathon winner",
        granted_by_id=staff.pk,
        idempotency_key="g-1",
    )

    assert (granted.awarded, granted.total_xp, granted.level, granted.levelled_up) == (
        300,
        300,
        2,
        True,
    )
    assert (revoked.awarded, revoked.total_xp, revoked.level) == (-120, 180, 1)
    assert replayed.replayed and replayed.total_xp == 300
    rows = list(
        XpTransaction.objects.filter(user=user)
        .order_by("id")
        .values_list("kind", "amount", "reason", "created_by")
    )
    assert rows == [
        ("grant", 300, "Hackathon winner", staff.pk),
        ("revoke", -120, "Duplicate quiz credit", staff.pk),
    ]
    assert total_of(user) == 180


def test_grants_need_a_reason_and_revocations_cannot_go_below_zero():
    user = learner_with_xp(50)
    with pytest.raises(DomainValidationError) as caught:
        xp_grant(user_id=user.pk, amount=10, reason="  ", granted_by_id=None, idempotency_key="x")
    assert list(caught.value.fields) == ["reason"]
    with pytest.raises(DomainValidationError) as caught:
        xp_revoke(
            user_id=user.pk, amount=51, reason="oops", revoked_by_id=None, idempotency_key="y"
        )
    assert list(caught.value.fields) == ["amount"]
    assert total_of(user) == 50
    assert XpTransaction.objects.filter(user=user).count() == 1


def test_totals_rebuilt_from_the_ledger_repair_a_drifted_profile():
    user = learner_with_xp(300)
    award(user, "bonus", amount=40)
    steady = learner_with_xp(70)
    # Something outside the services wrote a wrong total and level (the drift a rebuild fixes).
    LearnerGameProfile.objects.filter(user=user).update(total_xp=5, level=7)

    changed = xp_totals_rebuild()

    assert changed == 1
    profile = LearnerGameProfile.objects.get(user=user)
    assert (profile.total_xp, profile.level) == (340, 2)
    assert total_of(steady) == 70
