from datetime import UTC, datetime

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_put_creates_then_updates_by_external_id(integrator):
    created = integrator.put(
        "/api/v1/users/lms-42/",
        {"email": "Ada@Example.com", "first_name": "Ada", "timezone": "Europe/Berlin"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["email"] == "ada@example.com"

    updated = integrator.put("/api/v1/users/lms-42/", {"role": "instructor"}, format="json")

    assert updated.status_code == 200
    user = User.objects.get(external_id="lms-42")
    # Fields left out keep their stored values.
    assert (user.role, user.timezone, user.first_name) == ("instructor", "Europe/Berlin", "Ada")
    assert User.objects.filter(external_id="lms-42").count() == 1
    assert not user.has_usable_password()


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "a@example.com", "role": "wizard"}, "role", "not a valid choice"),
        ({"email": ["a@example.com"]}, "email", "valid"),
        ({"email": "a@example.com", "first_name": {"x": 1}}, "first_name", "valid string"),
        ({"first_name": "Ada"}, "email", "required"),
    ],
)
def test_bad_user_input_is_400_naming_the_field_and_writes_nothing(
    integrator, body, field, fragment
):
    response = integrator.put("/api/v1/users/lms-1/", body, format="json")

    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid"
    assert field in payload["fields"]
    assert fragment in " ".join(payload["fields"][field])
    assert not User.objects.filter(external_id="lms-1").exists()


def test_malformed_json_is_400_not_500(integrator):
    response = integrator.generic(
        "PUT", "/api/v1/users/lms-1/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_email_owned_by_another_user_is_rejected(integrator):
    integrator.put("/api/v1/users/a/", {"email": "same@example.com"}, format="json")

    response = integrator.put("/api/v1/users/b/", {"email": "same@example.com"}, format="json")

    assert response.status_code == 400
    assert "already has this email" in response.json()["fields"]["email"][0]
    assert not User.objects.filter(external_id="b").exists()


def test_bulk_upsert_creates_and_updates_thousands(integrator):
    items = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(2000)]
    first = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")
    assert first.status_code == 200
    assert first.json() == {"created": 2000, "updated": 0}

    items[0]["timezone"] = "Asia/Tokyo"
    items.append({"external_id": "new", "email": "new@example.com"})
    second = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")

    assert second.json() == {"created": 1, "updated": 2000}
    assert User.objects.get(external_id="u0").timezone == "Asia/Tokyo"
    assert User.objects.filter(external_id__isnull=False).count() == 2001


def test_bulk_with_one_bad_item_names_its_index_and_writes_nothing(integrator):
    items = [
        {"external_id": "ok", "email": "ok@example.com"},
        {"external_id": "bad", "email": "bad@example.com", "timezone": "Nowhere/Land"},
        {"external_id": "dup", "email": "ok@example.com"},
    ]
    response = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert "timezone" in response.json()["fields"]["items"]["1"]
    del items[1]
    response = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")
    assert response.status_code == 400
    assert "Duplicate of item 0" in response.json()["fields"]["items"]["1"]["email"][0]
    assert not User.objects.filter(external_id__in=["ok", "bad", "dup"]).exists()


@override_settings(STRIDE_BULK_MAX_ITEMS=10)
def test_oversized_bulk_request_is_400_naming_items(integrator):
    items = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(11)]

    response = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert "At most 10 items" in response.json()["fields"]["items"][0]
    assert not User.objects.filter(external_id__startswith="u").exists()


@pytest.mark.parametrize("body", [[], {"items": "nope"}, {"items": []}, {}])
def test_bulk_without_a_list_of_items_is_400(integrator, body):
    response = integrator.post("/api/v1/users/bulk/", body, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]


def test_list_is_paginated_and_filterable(integrator):
    items = [
        {
            "external_id": f"u{i}",
            "email": f"u{i}@example.com",
            "role": "instructor" if i < 3 else "student",
        }
        for i in range(60)
    ]
    integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")

    page = integrator.get("/api/v1/users/").json()
    assert page["count"] == 60
    assert len(page["results"]) == 50
    assert page["next"]
    instructors = integrator.get("/api/v1/users/?role=instructor").json()
    assert instructors["count"] == 3


def test_student_session_reads_only_themselves(integrator):
    integrator.post(
        "/api/v1/users/bulk/",
        {
            "items": [
                {"external_id": "me", "email": "me@example.com"},
                {"external_id": "other", "email": "other@example.com"},
            ]
        },
        format="json",
    )
    student = User.objects.get(external_id="me")
    client = APIClient()
    client.force_login(student)

    assert client.get("/api/v1/users/me/").status_code == 200
    assert client.get("/api/v1/users/other/").status_code == 404
    listed = client.get("/api/v1/users/").json()
    assert [u["external_id"] for u in listed["results"]] == ["me"]
    assert client.put("/api/v1/users/me/", {"role": "admin"}, format="json").status_code == 403
    assert User.objects.get(external_id="me").role == "student"


def test_staff_session_can_use_the_api(staff_client):
    response = staff_client.put("/api/v1/users/x/", {"email": "x@example.com"}, format="json")
    assert response.status_code == 201


def test_put_with_an_external_id_over_128_characters_is_400_naming_it(integrator):
    body = {"email": "a@example.com"}
    too_long = integrator.put(f"/api/v1/users/{'u' * 129}/", body, format="json")
    longest = integrator.put(f"/api/v1/users/{'u' * 128}/", body, format="json")

    assert too_long.status_code == 400
    assert too_long.json()["fields"] == {
        "external_id": ["Ensure this field has no more than 128 characters."]
    }
    assert longest.status_code == 201
    assert User.objects.filter(external_id__isnull=False).count() == 1


def test_put_on_an_existing_user_answers_the_stored_values(integrator):
    integrator.put("/api/v1/users/lms-7/", {"email": "grace@example.com"}, format="json")
    joined = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    User.objects.filter(external_id="lms-7").update(date_joined=joined)

    response = integrator.put("/api/v1/users/lms-7/", {"first_name": "Grace"}, format="json")

    assert response.status_code == 200
    stored = User.objects.get(external_id="lms-7")
    body = response.json()
    assert datetime.fromisoformat(body["date_joined"]) == stored.date_joined == joined
    assert datetime.fromisoformat(body["updated_at"]) == stored.updated_at
    assert (body["email"], body["first_name"], body["timezone"]) == (
        stored.email,
        stored.first_name,
        stored.timezone,
    )
    assert integrator.get("/api/v1/users/lms-7/").json() == body
