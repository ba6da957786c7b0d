"""POST /api/v1/interventions/: queue a template for learners, idempotently."""

from __future__ import annotations

import pytest

from interventions.models import ChannelOptOut, Delivery
from tests.accounts.factories import UserFactory
from tests.interventions.factories import default_template

pytestmark = pytest.mark.django_db
URL = "/api/v1/interventions/"


def test_queues_and_skips_with_reasons_and_a_replay_sends_nothing_more(make_key):
    client = make_key("interventions:write")
    default_template("gentle-reminder")
    ada, bo = UserFactory(), UserFactory()
    ChannelOptOut.objects.create(user=bo, channel="email")
    body = {"template": "gentle-reminder", "users": [ada.external_id, bo.external_id, "nobody"]}

    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="campaign-7")
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="campaign-7")

    assert first.status_code == 200, first.json()
    data = first.json()
    assert [q["user"] for q in data["queued"]] == [ada.external_id]
    assert {s["user"]: s["reason"] for s in data["skipped"]} == {
        "nobody": "unknown_user",
        bo.external_id: "opted_out",
    }
    assert again.json()["queued"] == data["queued"]
    assert Delivery.objects.count() == 1


def test_without_a_key_each_request_is_its_own_and_caps_apply(make_key):
    client = make_key("interventions:write")
    default_template("gentle-reminder")
    ada = UserFactory()
    body = {"template": "gentle-reminder", "users": [ada.external_id]}
    assert client.post(URL, body, format="json").json()["queued"]
    second = client.post(URL, body, format="json").json()
    assert second["skipped"] == [{"user": ada.external_id, "reason": "capped"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"template": "no-such-template", "users": ["x"]}, "template"),
        ({"template": "gentle-reminder", "users": []}, "users"),
        ({"template": "gentle-reminder", "users": ["x"], "channel": "fax"}, "channel"),
        ({"users": ["x"]}, "template"),
        ({"template": "gentle-reminder", "users": [7]}, "users"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(make_key, body, field):
    default_template("gentle-reminder")
    response = make_key("interventions:write").post(URL, body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())


def test_the_scope_is_needed(make_key):
    response = make_key("users:read").post(
        URL, {"template": "gentle-reminder", "users": ["x"]}, format="json"
    )
    assert response.status_code == 403


def test_an_explicit_conversion_marks_a_sent_delivery_once(make_key):
    import datetime

    from django.utils import timezone

    from interventions.services.deliveries import deliveries_send_due

    client = make_key("interventions:write")
    default_template("gentle-reminder")
    ada = UserFactory()
    queued = client.post(
        URL, {"template": "gentle-reminder", "users": [ada.external_id]}, format="json"
    ).json()["queued"][0]["delivery"]
    url = "/api/v1/interventions/conversions/"
    early = client.post(url, {"delivery": queued}, format="json")
    assert early.json()["status"] == "queued"  # not sent yet: nothing changes
    deliveries_send_due()
    when = timezone.now() + datetime.timedelta(hours=2)
    first = client.post(url, {"delivery": queued, "occurred_at": when.isoformat()}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "converted"
    later = when + datetime.timedelta(days=1)
    again = client.post(url, {"delivery": queued, "occurred_at": later.isoformat()}, format="json")
    assert again.json()["converted_at"] == first.json()["converted_at"]  # the first counts
    before = (timezone.now() - datetime.timedelta(days=3)).isoformat()
    refused = client.post(url, {"delivery": queued, "occurred_at": before}, format="json")
    assert refused.status_code == 400 and "occurred_at" in refused.json()["fields"]
    missing = client.post(url, {"delivery": 999999}, format="json")
    assert missing.status_code == 400 and "delivery" in missing.json()["fields"]


def test_conversions_need_the_write_scope(make_key):
    reader = make_key("interventions:read")
    answer = reader.post("/api/v1/interventions/conversions/", {"delivery": 1}, format="json")
    assert answer.status_code == 403
