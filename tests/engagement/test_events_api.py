"""POST /api/v1/events/ and GET /api/v1/events/types/ as integrators and staff see them."""

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from engagement.models import Event
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def ev(client_id: str = "e1", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": client_id,
        "type": "lesson_completed",
        "user": "u1",
        "course": "c1",
        "lesson": "l1",
        "occurred_at": "2026-11-20T18:04:05+02:00",
        "device": "desktop",
        "properties": {},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


@pytest.fixture
def sender(make_key) -> APIClient:
    return make_key("events:write", name="Moodle bridge")


def test_single_event_is_stored_under_the_keys_source(sender) -> None:
    response = sender.post(URL, ev(), format="json")

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": [], "rejected": []}
    event = Event.objects.get()
    assert event.source == sender.api_key.source == "moodle-bridge"
    assert event.lesson.external_id == "l1"


def test_batch_answer_lists_duplicates_and_rejected_items_by_index(sender) -> None:
    sender.post(URL, [ev("old")], format="json")
    batch = [
        ev("a"),
        ev("b"),
        ev("c", occurred_at="2026-11-20T18:04:05"),
        ev("d"),
        ev("old"),
    ]

    response = sender.post(URL, batch, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 3
    assert body["duplicates"] == [4]
    assert body["rejected"] == [
        {
            "index": 2,
            "fields": {
                "occurred_at": ["The date-time must include a UTC offset, e.g. +02:00 or Z."]
            },
        }
    ]
    assert Event.objects.count() == 4


def test_replaying_a_batch_stores_nothing_twice(sender) -> None:
    batch = [ev(f"e{i}") for i in range(10)]
    sender.post(URL, batch, format="json")

    again = sender.post(URL, batch, format="json").json()

    assert again == {"accepted": 0, "duplicates": list(range(10)), "rejected": []}
    assert Event.objects.count() == 10


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("id", {"id": None}),
        ("type", {"type": "teleport"}),
        ("user", {"user": 5}),
        ("course", {"course": ["c1"]}),
        ("lesson", {"lesson": None}),
        ("occurred_at", {"occurred_at": "2026-11-20 18:04"}),
        ("occurred_at", {"occurred_at": "2099-01-01T00:00:00+00:00"}),
        ("device", {"device": "console"}),
        ("session_id", {"session_id": "s" * 200}),
        ("platform", {"platform": "p" * 100}),
        ("properties", {"properties": "done"}),
    ],
)
def test_invalid_single_event_is_a_400_naming_the_field(sender, field, change) -> None:
    response = sender.post(URL, ev(**change), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert field in body["detail"]
    assert not Event.objects.exists()


def test_unknown_type_error_lists_the_accepted_types(sender) -> None:
    response = sender.post(URL, ev(type="lesson_finished"), format="json")

    message = response.json()["fields"]["type"][0]
    assert "lesson_completed" in message and "video_progress" in message and "x-" in message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("just text", "event object"),
        (42, "event object"),
        ([], "at least one"),
    ],
)
def test_body_that_is_not_events_is_a_400_on_events(sender, body, message) -> None:
    response = sender.post(URL, body, format="json")

    assert response.status_code == 400
    assert message in response.json()["fields"]["events"][0]


@override_settings(STRIDE_EVENTS_MAX_BATCH=3)
def test_batch_over_the_limit_is_refused_whole(sender) -> None:
    response = sender.post(URL, [ev(f"e{i}") for i in range(4)], format="json")

    assert response.status_code == 400
    assert "At most 3" in response.json()["fields"]["events"][0]
    assert not Event.objects.exists()


def test_malformed_json_is_a_400(sender) -> None:
    response = sender.post(URL, '[{"id": "e1",', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_credentials_and_scopes(make_key, api_client) -> None:
    assert api_client.post(URL, ev(), format="json").status_code == 401
    reader = make_key("scores:read", "users:write")
    assert reader.post(URL, ev(), format="json").status_code == 403
    student = UserFactory(email="stu@example.com", password="pw-stu-12345")
    student_client = APIClient()
    student_client.force_login(student)
    assert student_client.post(URL, ev(), format="json").status_code == 403
    assert student_client.get(URL + "types/").status_code == 403
    assert not Event.objects.exists()


def test_staff_session_sends_under_the_web_source(staff_client) -> None:
    response = staff_client.post(URL, [ev()], format="json")

    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Event.objects.get().source == "web"


def test_event_types_listing(sender, make_key) -> None:
    response = sender.get(URL + "types/")

    assert response.status_code == 200
    types = {item["name"]: item for item in response.json()}
    assert types["lesson_completed"]["requires_lesson"] is True
    assert types["live_session_missed"]["is_activity"] is False
    quiz = {p["name"]: p for p in types["quiz_submitted"]["properties"]}
    assert quiz["max_score"]["required"] and quiz["max_score"]["exclusive_minimum"] == 0
    assert make_key("users:read").get(URL + "types/").status_code == 403


def test_batch_with_offsets_and_lone_surrogates_the_database_cannot_store(integrator) -> None:
    batch = [
        ev("ok-1"),
        ev("offset", occurred_at="2026-11-30T10:00:00+16:00"),
        ev("bad-\ud800"),
        ev("user", user="u-\ud800"),
        ev("prop", properties={"note": "\udc00", "ke\ud800y": 1}),
        ev("deep", type="x-anything", properties=nested_properties(40)),
        ev("ok-2"),
    ]
    body = json.dumps(batch)  # holds the escapes \ud800 and \udc00, as a sender's JSON would
    assert "\\ud800" in body

    response = integrator.post(URL, body, content_type="application/json")

    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    rejected = {item["index"]: item["fields"] for item in answer["rejected"]}
    assert list(rejected) == [1, 2, 3, 4, 5]
    assert rejected[1] == {"occurred_at": ["The UTC offset must lie between -15:59 and +15:59."]}
    assert list(rejected[2]) == ["id"] and "lone surrogate" in rejected[2]["id"][0]
    assert list(rejected[3]) == ["user"] and "lone surrogate" in rejected[3]["user"][0]
    assert len(rejected[4]["properties"]) == 2  # the value and the key
    assert rejected[5] == {"properties": ["May be nested at most 32 levels deep."]}
    assert set(Event.objects.values_list("client_id", flat=True)) == {"ok-1", "ok-2"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "x-\ud800"}, "type"),
        ({"type": "purchase", "properties": {"amount": 1, "currency": "E\ud800"}}, "properties"),
        ({"platform": "\udfff"}, "platform"),
    ],
)
def test_single_event_with_a_lone_surrogate_is_a_400_that_quotes_it_safely(
    integrator, change, field
) -> None:
    response = integrator.post(URL, json.dumps(ev(**change)), content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == [field]
    assert not Event.objects.exists()


def nested_properties(depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for _ in range(depth - 1):
        properties = {"n": properties}
    return properties
