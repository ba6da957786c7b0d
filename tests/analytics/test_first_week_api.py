"""GET /api/v1/analytics/first-week/: the stored analysis, 400 for an unknown course, access."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from analytics.services.first_week import first_week_compute
from tests.accounts.factories import UserFactory
from tests.analytics.test_first_week import planted as planted

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/first-week/"


def session(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_endpoint_answers_definition_groups_outcomes_and_factors(planted, make_key):
    first_week_compute(now=planted.now)
    body = make_key("analytics:read").get(URL).json()
    weak = [p for p in planted.plan if p.weak]
    assert body["course"] is None and body["computed_at"]
    assert body["definition"]["first_days"] == 7 and body["definition"]["min_active_days"] == 2
    assert "fewer than 2" in body["definition"]["text"]
    assert body["groups"] == {
        "analysed": len(planted.plan),
        "weak": len(weak),
        "rest": len(planted.plan) - len(weak),
    }
    drop = next(o for o in body["outcomes"] if o["outcome"] == "dropped_off")
    assert drop["weak"]["count"] == sum(p.dropped for p in weak)
    assert drop["weak"]["low"] < drop["weak"]["rate"] < drop["weak"]["high"]
    assert drop["difference"]["low"] > 0
    quiz = next(f for f in body["factors"] if f["signal"] == "quizzes_passed")
    assert quiz["significant"] is True and quiz["cohen_d"] < 0
    assert quiz["p_value_holm"] >= quiz["p_value"]
    assert set(quiz) >= {"weak_mean", "rest_mean", "d_low", "d_high", "effect_size", "text"}
    assert body["recommendation"]

    course = planted.courses[1]
    one = make_key("analytics:read").get(f"{URL}?course={course.external_id}").json()
    assert one["course"] == course.external_id
    assert one["groups"]["analysed"] == len(planted.of(course))


def test_not_computed_yet_answers_empty_groups(db, make_key):
    body = make_key("analytics:read").get(URL).json()
    assert body["computed_at"] is None
    assert body["groups"] == {"analysed": 0, "weak": 0, "rest": 0}
    assert body["outcomes"] == [] and body["factors"] == []


def test_an_unknown_course_is_a_400_naming_it(db, make_key):
    response = make_key("analytics:read").get(f"{URL}?course=nope")
    assert response.status_code == 400
    assert "course" in response.json()["fields"]


def test_students_get_403_and_instructors_only_their_own_course(planted, make_key):
    algebra, biology = planted.courses
    assert session(UserFactory()).get(URL).status_code == 403
    instructor = session(algebra.instructor)
    assert instructor.get(f"{URL}?course={algebra.external_id}").status_code == 200
    assert instructor.get(f"{URL}?course={biology.external_id}").status_code == 403
    assert instructor.get(URL).status_code == 403  # the platform is staff's
    assert make_key("scores:read").get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_the_api_index_lists_it(client):
    index = client.get("/api/v1/").json()
    assert index["analytics/first-week"].endswith(URL)
