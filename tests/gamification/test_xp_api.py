"""POST /api/v1/xp/awards/: integrators award XP, once per idempotency key."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from gamification.models import LearnerGameProfile, XpRefusal, XpTransaction
from tests.accounts.factories import ApiKeyFactory, UserFactory
from tests.gamification.factories import learner_with_xp

pytestmark = pytest.mark.django_db

URL = "/api/v1/xp/awards/"


@pytest.fixture
def lms(make_key):
    return make_key("gamification:write")


def body(**fields):
    return {"user": "ada", "action": "quiz_passed", "idempotency_key": "k1", **fields}


def test_an_award_answers_the_amount_new_total_and_level(lms):
    learner_with_xp(200, external_id="ada")

    response = lms.post(URL, body(reference="quiz-7"), format="json")

    assert response.status_code == 200
    assert response.json() == {
        "user": "ada",
        "action": "quiz_passed",
        "awarded": 100,
        "refused_reason": None,
        "total_xp": 300,
        "level": 2,
        "level_name": "Apprentice",
        "levelled_up": True,
    }
    assert "Idempotent-Replayed" not in response.headers
    row = XpTransaction.objects.get(kind="award")
    assert (row.action.code, row.reference) == ("quiz_passed", "quiz-7")


def test_a_replay_answers_the_same_and_changes_nothing(lms):
    learner_with_xp(0, external_id="ada")
    first = lms.post(URL, body(action="bonus", amount=30), format="json")
    lms.post(URL, body(action="bonus", amount=5, idempotency_key="k2"), format="json")

    again = lms.post(URL, body(action="bonus", amount=30), format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["total_xp"] == 30
    assert again.headers["Idempotent-Replayed"] == "true"
    assert LearnerGameProfile.objects.get(user__external_id="ada").total_xp == 35


def test_keys_are_namespaced_by_the_api_keys_source():
    UserFactory(external_id="ada")
    answers = []
    for source in ("lms-a", "lms-b"):
        key = ApiKeyFactory(source=source, scopes=["gamification:write"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw_key}")
        answers.append(client.post(URL, body(action="bonus", amount=10), format="json").json())

    assert [a["total_xp"] for a in answers] == [10, 20]


def test_anti_cheat_answers_zero_and_the_reason(lms):
    UserFactory(external_id="ada")
    lms.post(URL, body(action="daily_login"), format="json")

    refused = lms.post(URL, body(action="daily_login", idempotency_key="k2"), format="json")

    assert refused.status_code == 200
    assert refused.json()["awarded"] == 0
    assert refused.json()["refused_reason"] == "daily_cap"
    assert refused.json()["total_xp"] == 10
    assert XpRefusal.objects.get().reason == "daily_cap"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"user": "nobody"}, "user"),
        ({"action": "flying"}, "action"),
        ({"amount": 0}, "amount"),
        ({"amount": "50"}, "amount"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": None}, "idempotency_key"),
        ({"reference": "x" * 256}, "reference"),
        ({"user": 7}, "user"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(lms, fields, field):
    UserFactory(external_id="ada")
    response = lms.post(URL, body(**fields), format="json")
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    assert list(answer["fields"]) == [field]
    assert not XpTransaction.objects.exists()


def test_a_key_reused_for_another_learner_is_a_400(lms):
    UserFactory(external_id="ada")
    UserFactory(external_id="bob")
    lms.post(URL, body(action="bonus"), format="json")
    response = lms.post(URL, body(action="bonus", user="bob"), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["idempotency_key"]


def test_it_needs_the_gamification_write_scope(make_key, api_client):
    UserFactory(external_id="ada")
    reader = make_key("gamification:read")

    assert reader.post(URL, body(), format="json").status_code == 403
    assert api_client.post(URL, body(), format="json").status_code in (401, 403)
    learner = UserFactory()
    api_client.force_login(learner)
    assert api_client.post(URL, body(), format="json").status_code == 403
    assert not XpTransaction.objects.exists()


def test_the_schema_documents_the_endpoint(staff_client):
    schema = staff_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/xp/awards/"]["post"]
    assert operation["summary"] == "Award XP"
    assert "gamification:write" in operation["description"]
    assert set(operation["responses"]) >= {"200", "400", "403"}
