"""The XP admin: the catalogue edited, the ledger browsed, grants and revocations with a
reason through the services, and the level scheme saved through its service."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from accounts.models import User
from gamification.models import LearnerGameProfile, Level, LevelScheme, XpAction, XpTransaction
from tests.accounts.factories import AdminFactory, UserFactory
from tests.gamification.factories import XpActionFactory, award, learner_with_xp

pytestmark = pytest.mark.django_db

ADMIN = "/admin/gamification"


@pytest.fixture
def superuser() -> User:
    return AdminFactory(email="root@example.com", is_superuser=True)


@pytest.fixture
def admin_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def request_key(page: str) -> str:
    return re.search(r'name="request_key" value="([0-9a-f]+)"', page).group(1)


def test_every_xp_page_renders(admin_client):
    user = learner_with_xp(300, email="ada@example.com")
    award(user, XpActionFactory(daily_cap=1), reference="r")
    award(user, XpAction.objects.get(code="daily_login"))
    award(user, XpAction.objects.get(code="daily_login"))  # refused: daily cap
    scheme = LevelScheme.objects.get()

    for path in (
        "/xpaction/",
        f"/xpaction/{XpAction.objects.get(code='lesson_completed').pk}/change/",
        "/xptransaction/",
        f"/xptransaction/{XpTransaction.objects.first().pk}/change/",
        "/xprefusal/",
        "/learnergameprofile/",
        f"/learnergameprofile/{user.pk}/change/",
        "/levelscheme/",
        f"/levelscheme/{scheme.pk}/change/",
    ):
        response = admin_client.get(ADMIN + path)
        assert response.status_code == 200, path
    assert b"Grandmaster" in admin_client.get(f"{ADMIN}/levelscheme/{scheme.pk}/change/").content


def test_the_ledger_is_read_only_and_searchable_by_email_or_external_id(admin_client):
    ada = learner_with_xp(100, email="ada@example.com", external_id="lms-ada")
    learner_with_xp(200, email="bob@example.com")

    by_email = admin_client.get(f"{ADMIN}/xptransaction/", {"q": "ada@example.com"})
    by_id = admin_client.get(f"{ADMIN}/xptransaction/", {"q": "lms-ada"})
    row = XpTransaction.objects.get(user=ada)

    for response in (by_email, by_id):
        assert b"ada@example.com" in response.content
        assert b"bob@example.com" not in response.content
    assert admin_client.get(f"{ADMIN}/xptransaction/add/").status_code == 403
    assert admin_client.post(f"{ADMIN}/xptransaction/{row.pk}/delete/").status_code == 403
    kinds = admin_client.get(f"{ADMIN}/xptransaction/", {"kind__exact": "grant"})
    assert b"ada@example.com" in kinds.content


def test_staff_edit_an_actions_amount_in_the_catalogue(admin_client):
    action = XpAction.objects.get(code="discussion_post")
    response = admin_client.post(
        f"{ADMIN}/xpaction/{action.pk}/change/",
        {
            "code": action.code,
            "name": action.name,
            "description": action.description,
            "amount": 45,
            "is_active": "on",
            "event_types": '["discussion_post", "x-thread-started"]',
            "condition": "",
            "repeat": "each",
            "daily_cap": 5,
            "min_interval_seconds": 180,
            "burst_limit": 10,
            "burst_window_seconds": 60,
        },
    )
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.amount, action.event_types) == (45, ["discussion_post", "x-thread-started"])
    assert award(UserFactory(), "discussion_post").awarded == 45


def test_granting_xp_asks_for_a_reason_then_writes_the_ledger_once(admin_client, superuser):
    ada, bob = learner_with_xp(10), learner_with_xp(20)
    changelist = f"{ADMIN}/learnergameprofile/"
    chosen = {"action": "grant_xp", ACTION_CHECKBOX_NAME: [ada.pk, bob.pk]}

    form_page = admin_client.post(changelist, chosen)
    key = request_key(form_page.content.decode())
    without_reason = admin_client.post(
        changelist, {**chosen, "apply": "Grant", "amount": 50, "reason": "", "request_key": key}
    )
    applied = {**chosen, "apply": "Grant", "amount": 50, "reason": "Demo day", "request_key": key}
    done = admin_client.post(changelist, applied)
    admin_client.post(changelist, applied)  # the same form sent twice

    assert form_page.status_code == 200 and b"Grant XP to 2 learner(s)" in form_page.content
    assert without_reason.status_code == 200 and b"This field is required" in without_reason.content
    assert done.status_code == 302
    grants = XpTransaction.objects.filter(reason="Demo day")
    assert sorted(grants.values_list("user_id", "amount", "created_by")) == [
        (ada.pk, 50, superuser.pk),
        (bob.pk, 50, superuser.pk),
    ]
    assert LearnerGameProfile.objects.get(user=ada).total_xp == 60


def test_revoking_xp_goes_through_the_service_and_never_below_zero(admin_client):
    ada = learner_with_xp(100)
    changelist = f"{ADMIN}/learnergameprofile/"
    chosen = {"action": "revoke_xp", ACTION_CHECKBOX_NAME: [ada.pk]}
    key = request_key(admin_client.post(changelist, chosen).content.decode())

    admin_client.post(
        changelist,
        {**chosen, "apply": "Revoke", "amount": 30, "reason": "Copied quiz", "request_key": key},
    )
    too_much = admin_client.post(
        changelist,
        {**chosen, "apply": "Revoke", "amount": 500, "reason": "Oops", "request_key": key + "0"},
        follow=True,
    )

    assert LearnerGameProfile.objects.get(user=ada).total_xp == 70
    assert XpTransaction.objects.get(user=ada, kind="revoke").amount == -30
    assert b"Cannot revoke more than" in too_much.content


def test_saving_the_scheme_recomputes_thresholds_and_learners_levels(admin_client):
    user = learner_with_xp(450)  # level 2 on the default curve
    scheme = LevelScheme.objects.get()
    levels = list(Level.objects.order_by("number"))
    data = {
        "curve": "linear",
        "base": 50,
        "factor": "1.000",
        "levels-TOTAL_FORMS": len(levels),
        "levels-INITIAL_FORMS": len(levels),
        "levels-MIN_NUM_FORMS": 0,
        "levels-MAX_NUM_FORMS": 1000,
    }
    for i, level in enumerate(levels):
        data[f"levels-{i}-id"] = level.pk
        data[f"levels-{i}-scheme"] = scheme.pk
        data[f"levels-{i}-name"] = "Rookie" if level.number == 1 else level.name

    response = admin_client.post(f"{ADMIN}/levelscheme/{scheme.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    assert list(Level.objects.order_by("number").values_list("threshold_xp", flat=True)) == [
        50 * (n - 1) * n // 2 for n in range(1, 11)
    ]
    assert Level.objects.get(number=1).name == "Rookie"
    assert LearnerGameProfile.objects.get(user=user).level == 4  # 300 <= 450 < 500


def test_hand_set_thresholds_must_rise(admin_client):
    scheme = LevelScheme.objects.get()
    scheme.curve = "manual"
    scheme.save()
    levels = list(Level.objects.order_by("number"))
    data = {
        "curve": "manual",
        "base": 250,
        "factor": "1.500",
        "levels-TOTAL_FORMS": len(levels),
        "levels-INITIAL_FORMS": len(levels),
        "levels-MIN_NUM_FORMS": 0,
        "levels-MAX_NUM_FORMS": 1000,
    }
    for i, level in enumerate(levels):
        data[f"levels-{i}-id"] = level.pk
        data[f"levels-{i}-scheme"] = scheme.pk
        data[f"levels-{i}-name"] = level.name
        data[f"levels-{i}-threshold_xp"] = 10 if i == 5 else 100 * i

    response = admin_client.post(f"{ADMIN}/levelscheme/{scheme.pk}/change/", data)

    assert response.status_code == 200
    assert b"must need more XP than level 5" in response.content
    assert Level.objects.get(number=6).threshold_xp == 3298
