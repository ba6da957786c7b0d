"""GET /api/v1/engagement/at-risk/: stats, the sorted list, filters, validation, permissions."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_score
from tests.learning.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/engagement/at-risk/"


def test_stats_and_list_of_the_current_run(staff_client, scored):
    response = staff_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["run"]["id"] == scored.run.pk
    assert body["run"]["as_of"] == "2026-03-02"
    # Current run, one row per enrolment: 92 critical, 75 high, 61 high, 45 medium, 20 and 10
    # low; default threshold 60. Five learners, three of them at risk.
    assert body["stats"] == {
        "total": 6,
        "critical": 1,
        "high": 2,
        "medium": 1,
        "low": 2,
        "at_risk": 3,
        "at_risk_share": 0.5,
        "average_risk": 50.5,
        "threshold": 60,
        "learners": 5,
        "at_risk_learners": 3,
        "never_started": 0,
    }
    assert [(row["user"], row["course"]) for row in body["results"]] == [
        ("ext-ada", "py101"),
        ("ext-ben", "js201"),
        ("ext-cy", "py101"),
    ]
    ada = body["results"][0]
    assert ada["name"] == "Ada Learner"
    assert ada["email"] == "ada@example.com"
    assert (ada["course"], ada["course_title"], ada["never_started"]) == (
        "py101",
        "Python 101",
        False,
    )
    assert (ada["risk"], ada["weekly_risk"], ada["monthly_risk"]) == (92, 82, 97)
    assert ada["confidence"] == 70
    assert ada["level"] == "critical"
    assert ada["drivers"][0] == {
        "signal": "recency_days",
        "label": "Days since the last event",
        "text": "No activity for 12 days (the course's typical gap is 3)",
        "value": 12.0,
        "contribution": 1.4,
    }
    assert [r["code"] for r in ada["recommendations"]] == ["gentle_reminder", "human_outreach"]
    assert ada["scored_at"]
    assert "signals" not in ada


def test_threshold_level_course_and_limit_filters(staff_client, scored):
    every = staff_client.get(URL, {"threshold": 0}).json()
    assert [(r["user"], r["risk"]) for r in every["results"]] == [
        ("ext-ada", 92),
        ("ext-ben", 75),
        ("ext-cy", 61),
        ("ext-dee", 45),
        ("ext-ada", 20),
        ("ext-eve", 10),
    ]
    assert every["stats"]["at_risk"] == 6 and every["stats"]["at_risk_share"] == 1.0
    assert every["stats"]["at_risk_learners"] == 5

    high = staff_client.get(URL, {"threshold": 0, "level": "high"}).json()
    assert [r["user"] for r in high["results"]] == ["ext-ben", "ext-cy"]
    assert high["stats"]["total"] == 6  # level narrows the list, not the stats

    course = staff_client.get(URL, {"threshold": 60, "course": "py101"}).json()
    assert [r["user"] for r in course["results"]] == ["ext-ada", "ext-cy"]
    # py101 has ada 92, cy 61, eve 10: two of three at or above 60.
    assert course["stats"]["total"] == 3
    assert (course["stats"]["critical"], course["stats"]["high"]) == (1, 1)
    assert course["stats"]["at_risk_share"] == pytest.approx(0.6667)
    # In js201 ada's enrolment is 20: she is listed at 20 there, not at her 92 of py101.
    js = staff_client.get(URL, {"threshold": 0, "course": "js201"}).json()
    assert [(r["user"], r["risk"]) for r in js["results"]] == [
        ("ext-ben", 75),
        ("ext-dee", 45),
        ("ext-ada", 20),
    ]
    assert js["stats"]["at_risk_learners"] == 3

    limited = staff_client.get(URL, {"threshold": 0, "limit": 2}).json()
    assert [r["user"] for r in limited["results"]] == ["ext-ada", "ext-ben"]
    assert limited["stats"]["total"] == 6


def test_never_started_filter_and_flag(staff_client, scored):
    fay = UserFactory(external_id="ext-fay")
    EnrollmentFactory(user=fay, course=scored.course)
    make_score(scored.run, fay, 85, course=scored.course, never_started=True, confidence=10)

    never = staff_client.get(URL, {"threshold": 0, "never_started": "true"}).json()
    assert [(r["user"], r["never_started"]) for r in never["results"]] == [("ext-fay", True)]
    assert never["stats"]["never_started"] == 1
    started = staff_client.get(URL, {"threshold": 0, "never_started": "false"}).json()
    assert "ext-fay" not in {r["user"] for r in started["results"]}
    assert len(started["results"]) == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"threshold": "101"}, "threshold"),
        ({"threshold": "-1"}, "threshold"),
        ({"threshold": "6.5"}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"level": "severe"}, "level"),
        ({"course": "no-such-course"}, "course"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"never_started": "perhaps"}, "never_started"),
    ],
)
def test_bad_parameters_are_400s_naming_the_field(staff_client, scored, params, field):
    response = staff_client.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert field in body["detail"]


def test_no_scores_yet_gives_zero_stats_and_an_empty_list(staff_client):
    body = staff_client.get(URL).json()

    assert body["run"] is None
    assert body["stats"]["total"] == 0 and body["stats"]["at_risk_share"] == 0
    assert body["results"] == []


def test_keys_need_the_scores_read_scope(make_key, scored):
    assert make_key("scores:read").get(URL).status_code == 200
    assert make_key("*").get(URL).status_code == 200

    refused = make_key("events:write").get(URL)
    assert refused.status_code == 403
    assert "scores:read" in refused.json()["detail"]


def test_students_and_anonymous_never_see_risk(scored):
    student = APIClient()
    student.force_login(UserFactory(email="nosy@example.com"))
    response = student.get(URL)
    assert response.status_code == 403
    assert "risk" not in response.content.decode()

    assert APIClient().get(URL).status_code in {401, 403}


def test_query_count_does_not_grow_with_the_list(make_key, scored, django_assert_num_queries):
    client = make_key("scores:read")
    client.get(URL)  # the first use also stamps the key's last use
    # The key, the current run, the stats aggregate, the list with learners and courses joined.
    with django_assert_num_queries(4):
        assert len(client.get(URL, {"threshold": 0}).json()["results"]) == 6


def test_documented_in_the_openapi_schema(staff_client):
    schema = staff_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/engagement/at-risk/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"threshold", "level", "course", "limit", "never_started"} <= names
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/AtRiskResponse")
