"""The API's input handling: every malformed, too deep or too large request is a 4xx in the one
error shape, and list parameters are checked, not guessed."""

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from engagement.catalogue import MAX_PROPERTIES_BYTES
from engagement.models import Event

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"


def event(client_id: str = "e1", **fields: Any) -> dict[str, Any]:
    return {
        "id": client_id,
        "type": "x-note",
        "user": "u1",
        "occurred_at": "2026-11-20T18:04:05+02:00",
        **fields,
    }


def send(client: APIClient, method: str, url: str, body: str | bytes, **extra: Any) -> Any:
    return client.generic(method, url, body, content_type="application/json", **extra)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    return body


# --- JSON depth (defect 3) -------------------------------------------------------------------

NESTED_LISTS = "[" * 2000 + "]" * 2000
NESTED_OBJECTS = '{"a":' * 1000 + "1" + "}" * 1000
NESTED_PROPERTIES = json.dumps(event())[:-1] + ', "properties": ' + NESTED_OBJECTS + "}"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", "/api/v1/users/u1/"),
        ("POST", "/api/v1/users/bulk/"),
        ("PUT", "/api/v1/courses/c1/"),
        ("PUT", "/api/v1/enrollments/u1/c1/"),
        ("POST", EVENTS),
    ],
)
@pytest.mark.parametrize("body", [NESTED_LISTS, NESTED_OBJECTS], ids=["lists", "objects"])
def test_deeply_nested_json_is_a_400_naming_the_depth_limit(integrator, method, url, body):
    response = send(integrator, method, url, body)

    payload = assert_error(response, 400, "too_deep")
    assert "64 levels" in payload["detail"]


def test_an_event_with_properties_nested_1000_deep_is_refused_whole(integrator):
    response = send(integrator, "POST", EVENTS, NESTED_PROPERTIES)

    assert_error(response, 400, "too_deep")
    assert not Event.objects.exists()


def test_json_at_the_depth_limit_is_parsed_and_one_level_more_is_not(integrator):
    def body(depth: int) -> str:
        # The object is level 1; "extra" (a field the API ignores) holds the other levels.
        extra = "[" * (depth - 1) + "]" * (depth - 1)
        return '{"email": "deep@example.com", "extra": ' + extra + "}"

    assert_error(send(integrator, "PUT", "/api/v1/users/deep/", body(65)), 400, "too_deep")
    assert send(integrator, "PUT", "/api/v1/users/deep/", body(64)).status_code == 201


@pytest.mark.parametrize("body", ["{not json", '{"email": }', '{"email": NaN}', "[1, 2", "\xff"])
def test_malformed_json_is_a_400_parse_error(integrator, body):
    raw = body.encode("latin-1") if body == "\xff" else body
    response = send(integrator, "PUT", "/api/v1/users/u1/", raw)

    payload = assert_error(response, 400, "parse_error")
    assert payload["detail"].startswith("JSON parse error")


def test_a_lone_surrogate_reaches_the_field_check_instead_of_failing_the_parse(integrator):
    # orjson refuses "\ud800"; the parser falls back to json so that the field says what's wrong.
    body = '{"email": "s@example.com", "first_name": "bad-\\ud800"}'

    payload = assert_error(send(integrator, "PUT", "/api/v1/users/s1/", body), 400, "invalid")

    assert list(payload["fields"]) == ["first_name"]


def test_integers_beyond_64_bits_keep_their_value(integrator):
    integrator.put("/api/v1/courses/c1/", {"title": "C"}, format="json")
    body = '{"course": "c1", "title": "L", "position": ' + str(2**70) + "}"

    payload = assert_error(send(integrator, "PUT", "/api/v1/lessons/l1/", body), 400, "invalid")

    # An integer (too large), not a float that is "not a valid integer".
    assert "less than or equal to 100000" in payload["fields"]["position"][0]


# --- body size (defect 5) --------------------------------------------------------------------


def test_the_batch_of_the_issue_is_accepted(integrator):
    # 1,000 events with 3 KB of properties each: 3.1 MB, over the old 2.5 MB limit.
    batch = [event(f"e{i}", properties={"note": "n" * 3000}) for i in range(1000)]
    body = json.dumps(batch)
    assert len(body) > 3_000_000

    response = send(integrator, "POST", EVENTS, body)

    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 1000


def test_the_body_limit_admits_the_largest_requests_the_readme_allows():
    longest = "x" * 128
    properties = {"note": "n" * (MAX_PROPERTIES_BYTES - len('{"note":""}'))}
    assert len(json.dumps(properties, separators=(",", ":"))) == MAX_PROPERTIES_BYTES
    biggest_event = {
        "id": longest,
        "type": "x-" + "t" * 62,
        "user": longest,
        "course": longest,
        "lesson": longest,
        "occurred_at": "2026-11-20T18:04:05.123456+02:00",
        "session_id": longest,
        "device": "desktop",
        "platform": "p" * 64,
        "properties": properties,
    }
    biggest_user = {
        "external_id": longest,
        "email": "e" * 240 + "@example.com",
        "first_name": "f" * 150,
        "last_name": "l" * 150,
        "role": "instructor",
        "timezone": "America/Argentina/ComodRivadavia",
    }
    events_body = json.dumps([biggest_event] * settings.STRIDE_EVENTS_MAX_BATCH, indent=1)
    users_body = json.dumps({"items": [biggest_user] * settings.STRIDE_BULK_MAX_ITEMS}, indent=1)

    assert len(events_body.encode()) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(users_body.encode()) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.mark.parametrize("url", [EVENTS, "/api/v1/users/bulk/", "/api/v1/courses/bulk/"])
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_body_over_the_limit_is_a_413_naming_the_limit(integrator, url, accept):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = b"[" + b" " * limit + b"]"

    response = send(integrator, "POST", url, body, HTTP_ACCEPT=accept)

    assert response.status_code == 413
    if accept == "application/json":
        payload = assert_error(response, 413, "too_large")
        assert f"{limit:,} bytes" in payload["detail"]
    assert not Event.objects.exists() and not User.objects.filter(external_id__isnull=False)


# --- date-time filters (defect 2) -----------------------------------------------------------

DATE_TIME_FILTERS = [
    "/api/v1/users/?updated_since=",
    "/api/v1/courses/?updated_since=",
    "/api/v1/enrollments/?enrolled_since=",
]


@pytest.mark.parametrize("url", DATE_TIME_FILTERS)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2021-06-13T05:30:18%2B16:46", "UTC offset"),
        ("2021-06-13T05:30:18-16:00", "UTC offset"),
        ("0001-01-01T00:00:00%2B15:00", "out of range"),
        ("9999-12-31T23:59:59-15:00", "out of range"),
        ("yesterday", "valid date/time"),
    ],
)
def test_a_date_time_filter_out_of_range_is_a_400_naming_the_parameter(
    integrator, url, value, reason
):
    response = integrator.get(url + value)

    payload = assert_error(response, 400, "invalid")
    parameter = url.rsplit("?", 1)[1].rstrip("=")
    assert list(payload["fields"]) == [parameter]
    assert reason in payload["fields"][parameter][0]


def test_a_date_time_filter_with_a_real_offset_compares_in_utc(integrator):
    integrator.put("/api/v1/users/u1/", {"email": "u1@example.com"}, format="json")
    stored = User.objects.get(external_id="u1").updated_at
    kiribati = timezone(timedelta(hours=14))  # the largest offset in use

    def since(moment: datetime) -> str:
        return moment.astimezone(kiribati).isoformat().replace("+", "%2B")

    found = integrator.get("/api/v1/users/?updated_since=" + since(stored - timedelta(minutes=1)))
    none = integrator.get("/api/v1/users/?updated_since=" + since(stored + timedelta(minutes=1)))

    assert (found.json()["count"], none.json()["count"]) == (1, 0)


# --- pagination -----------------------------------------------------------------------------


@pytest.fixture
def three_courses(integrator) -> APIClient:
    items = [{"external_id": f"c{i}", "title": f"Course {i}"} for i in range(3)]
    integrator.post("/api/v1/courses/bulk/", {"items": items}, format="json")
    return integrator


@pytest.mark.parametrize("value", ["false", "0", "-1", "501", "1.5", "", "%D9%A3"])
def test_a_bad_page_size_is_a_400_naming_page_size(three_courses, value):
    payload = assert_error(three_courses.get(f"/api/v1/lessons/?page_size={value}"), 400, "invalid")

    assert payload["fields"] == {"page_size": ["Must be a whole number from 1 to 500."]}


@pytest.mark.parametrize("value", ["0", "-1", "abc", "last", ""])
def test_a_malformed_page_is_a_400_naming_page(three_courses, value):
    response = three_courses.get(f"/api/v1/courses/?page_size=2&page={value}")

    payload = assert_error(response, 400, "invalid")
    assert payload["fields"] == {"page": ["Must be a whole number from 1."]}


def test_a_page_past_the_last_is_a_json_404_naming_the_last_page(three_courses):
    response = three_courses.get("/api/v1/courses/?page_size=2&page=3")
    huge = three_courses.get("/api/v1/courses/?page_size=2&page=2432902008176639999000")

    payload = assert_error(response, 404, "not_found")
    assert payload["detail"] == "No page 3: the last page is 2."
    assert assert_error(huge, 404, "not_found")["detail"].endswith("the last page is 2.")


def test_valid_pages_are_served(three_courses):
    first = three_courses.get("/api/v1/courses/?page_size=2").json()
    second = three_courses.get("/api/v1/courses/?page_size=2&page=2").json()
    empty = three_courses.get("/api/v1/lessons/?page=1").json()

    assert (len(first["results"]), len(second["results"]), first["count"]) == (2, 1, 3)
    assert second["next"] is None
    assert (empty["count"], empty["results"]) == (0, [])


def test_the_schema_states_the_page_bounds(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/courses/"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}


# --- one voice for the error texts ----------------------------------------------------------


def _message(response: Any, field: str) -> str:
    payload = assert_error(response, 400, "invalid")
    return payload["fields"][field][0]


ROLES = "student, instructor, admin"
STATUSES = "active, completed, withdrawn"


@pytest.mark.parametrize(
    ("method", "url", "body", "field", "expected"),
    [
        (
            "put",
            "/api/v1/users/u2/",
            {"email": "a@example.com", "role": "wizard"},
            "role",
            f'"wizard" is not a valid choice. Choose one of: {ROLES}.',
        ),
        ("get", "/api/v1/users/?role=wizard", None, "role", None),
        (
            "put",
            "/api/v1/enrollments/u1/c1/",
            {"status": "paused"},
            "status",
            f'"paused" is not a valid choice. Choose one of: {STATUSES}.',
        ),
        ("get", "/api/v1/enrollments/?status=paused", None, "status", None),
        (
            "get",
            "/api/v1/engagement/scores/?level=dire",
            None,
            "level",
            '"dire" is not a valid choice. Choose one of: low, medium, high, critical.',
        ),
        (
            "post",
            EVENTS,
            event(device="fridge"),
            "device",
            '"fridge" is not a valid choice. Choose one of: desktop, mobile, tablet.',
        ),
    ],
)
def test_choice_errors_are_worded_one_way(integrator, method, url, body, field, expected):
    integrator.put("/api/v1/users/u1/", {"email": "u1@example.com"}, format="json")
    integrator.put("/api/v1/courses/c1/", {"title": "C"}, format="json")
    if expected is None:  # a filter: the same words as the field of the same name
        value = url.rsplit("=", 1)[1]
        choices = ROLES if field == "role" else STATUSES
        expected = f'"{value}" is not a valid choice. Choose one of: {choices}.'

    response = getattr(integrator, method)(url, body, format="json")

    assert _message(response, field) == expected


def test_an_unknown_event_type_is_worded_like_every_choice(integrator):
    response = integrator.post(EVENTS, event(type="lesson_finished"), format="json")

    message = _message(response, "type")
    assert message.startswith('"lesson_finished" is not a valid choice. Choose one of: login, ')
    assert message.endswith(", or a custom type 'x-<name>' (lowercase letters, digits, dashes).")


def test_a_long_invalid_choice_is_shortened_in_the_message(integrator):
    body = {"email": "a@example.com", "role": "w" * 500}

    message = _message(integrator.put("/api/v1/users/u1/", body, format="json"), "role")

    assert len(message) < 120 and message.startswith('"www')


@pytest.mark.parametrize("header", ["Token abc123", "Basic dXNlcjpwYXNz", "token abc"])
def test_another_authorization_scheme_is_told_to_use_bearer(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    payload = assert_error(api_client.get("/api/v1/users/"), 401, "authentication_failed")

    assert 'send "Authorization: Bearer <key>"' in payload["detail"]
    assert header.split()[0] in payload["detail"]


def test_the_bearer_scheme_is_case_insensitive(integrator):
    integrator.credentials(HTTP_AUTHORIZATION=f"bearer {integrator.raw_key}")

    assert integrator.get("/api/v1/users/").status_code == 200


@pytest.mark.parametrize(
    ("body", "kind"), [([{"external_id": "u1"}], "a list"), ("u1", "a string"), (5, "a number")]
)
def test_a_bulk_body_that_is_not_an_object_says_it_expects_items(integrator, body, kind):
    response = integrator.post("/api/v1/users/bulk/", body, format="json")

    assert _message(response, "items") == f'Expected an object {{"items": [...]}}; got {kind}.'
