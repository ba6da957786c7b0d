"""The read APIs: a learner's gamification state for integrators, and for the learner themself."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gamification.selectors.leaderboards import key_prefix, redis_client
from gamification.services.streaks import streak_record_activity
from tests.accounts.factories import UserFactory
from tests.gamification.factories import award, learner_with_xp

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_boards():
    """Redis outlives each test's rolled-back database: start every test with empty boards."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
        if keys:
            client.unlink(*keys)


FIELDS = {
    "user",
    "today",
    "timezone",
    "xp",
    "level",
    "streak",
    "achievements",
    "ranks",
    "league",
    "rewards",
    "recent_xp",
    "recent_moments",
    "show_on_leaderboards",
}


@pytest.fixture
def ada(django_capture_on_commit_callbacks):
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        user = learner_with_xp(
            700, first_name="Ada", external_id="ext-ada", timezone="Europe/Berlin"
        )
        streak_record_activity(user_id=user.pk, occurred_at=now - datetime.timedelta(days=1))
        award(user, "lesson_completed", reference="lesson:7")
    return user


def _signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_integrator_reads_a_learners_state(make_key, ada):
    client = make_key("gamification:read")

    response = client.get("/api/v1/users/ext-ada/gamification/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body["user"] == "ext-ada"
    assert body["timezone"] == "Europe/Berlin"
    assert body["xp"] == 700 + 20 + 50  # the grant, a streak day, a lesson
    assert body["level"]["number"] == 3
    assert body["level"]["name"] == "Explorer"
    assert body["level"]["next_threshold_xp"] == 1188
    assert body["level"]["xp_to_next"] == 1188 - 770
    assert 0 <= body["level"]["percent"] < 100
    assert body["streak"]["current"] == 1
    assert body["streak"]["freezes_max"] == 2
    assert isinstance(body["streak"]["at_risk_today"], bool)
    assert len(body["achievements"]) == 12
    first = body["achievements"][0]
    assert set(first) >= {"code", "tier", "rarity", "progress", "threshold", "unlocked_at"}
    assert body["ranks"]["all_time"] == {"rank": 1, "xp": 770, "total": 1}
    assert set(body["ranks"]) == {"daily", "weekly", "monthly", "all_time"}
    assert body["league"]["tier"] == "bronze"
    assert body["league"]["position"] == 1
    assert body["recent_xp"][0]["label"] in {"Lesson completed", "Staff grant", "Daily streak"}
    assert {m["kind"] for m in body["recent_moments"]} >= {"level_up"}


def test_a_key_needs_the_read_scope(make_key, ada, api_client):
    refused = make_key("users:read").get("/api/v1/users/ext-ada/gamification/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "gamification:read" in refused.json()["detail"]
    # gamification:write implies read, as every resource's write scope does.
    writer = make_key("gamification:write")
    assert writer.get("/api/v1/users/ext-ada/gamification/").status_code == 200
    anonymous = api_client.get("/api/v1/users/ext-ada/gamification/")
    assert anonymous.status_code == 401
    assert anonymous.json()["fields"] == {}


def test_an_unknown_learner_is_a_404_in_the_one_error_shape(make_key):
    response = make_key("gamification:read").get("/api/v1/users/nobody/gamification/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": "No user has this external id.",
        "fields": {},
    }


def test_a_malformed_external_id_is_a_400_naming_it(make_key):
    client = make_key("gamification:read")

    too_long = client.get(f"/api/v1/users/{'x' * 129}/gamification/")
    with_nul = client.get("/api/v1/users/a%00b/gamification/")

    assert too_long.status_code == 400
    assert list(too_long.json()["fields"]) == ["external_id"]
    assert with_nul.status_code == 400
    assert list(with_nul.json()["fields"]) == ["external_id"]


def test_a_learner_reads_only_their_own_state(ada):
    ben = UserFactory(external_id="ext-ben")
    client = _signed_in(ben)

    mine = client.get("/api/v1/me/gamification/")
    theirs = client.get("/api/v1/users/ext-ada/gamification/")

    assert mine.status_code == 200
    assert mine.json()["user"] == "ext-ben"
    assert mine.json()["xp"] == 0
    assert mine.json()["league"] is None
    assert theirs.status_code == 403
    assert "770" not in theirs.content.decode()
    assert _signed_in(ada).get("/api/v1/me/gamification/").json()["xp"] == 770


def test_the_me_endpoint_is_for_people_not_keys(make_key, api_client, ada):
    keyed = make_key("gamification:read").get("/api/v1/me/gamification/")
    assert keyed.status_code == 403
    assert "/users/{external_id}/gamification/" in keyed.json()["detail"]
    assert api_client.get("/api/v1/me/gamification/").status_code == 401


def test_staff_sessions_read_any_learner(staff_client, ada):
    response = staff_client.get("/api/v1/users/ext-ada/gamification/")
    assert response.status_code == 200
    assert response.json()["xp"] == 770


def test_both_operations_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    user_op = schema["paths"]["/api/v1/users/{external_id}/gamification/"]["get"]
    me_op = schema["paths"]["/api/v1/me/gamification/"]["get"]
    assert user_op["summary"] == "Read a learner's gamification state"
    assert me_op["summary"] == "Read my own gamification state"
    assert "gamification:read" in user_op["description"]
    ref = user_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(component["properties"]) == FIELDS
    assert {"404", "403", "401"} <= set(user_op["responses"])
