"""GET /api/v1/analytics/cohorts/ and /api/v1/analytics/lifecycle/: rows, 400s, permissions."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.analytics.test_retention import history as history
from tests.analytics.test_retention_pages import cohorts as cohorts

pytestmark = pytest.mark.django_db

NOVEMBER = "from=2026-11-01&to=2026-11-29"


def session(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_cohorts_endpoint_answers_the_matrix_rows(cohorts, make_key):
    client = make_key("analytics:read")
    rows = client.get(f"/api/v1/analytics/cohorts/?{NOVEMBER}").json()
    assert [(r["cohort_week"], r["cohort_size"], r["retained"]) for r in rows] == [
        ("2026-11-02", 2, [1, 2, 1, 1]),
        ("2026-11-09", 1, [1, 1, 0]),
    ]
    assert rows[0]["rates"] == [0.5, 1.0, 0.5, 0.5]
    assert rows[0]["cohort_kind"] == "signup" and rows[0]["course"] is None
    streak = client.get(
        f"/api/v1/analytics/cohorts/?{NOVEMBER}&kind=signup&breakdown=streak7"
    ).json()
    assert [(r["cohort_week"], r["breakdown_value"], r["cohort_size"]) for r in streak] == [
        ("2026-11-02", "no", 2),
        ("2026-11-09", "yes", 1),
    ]
    biology = client.get(
        f"/api/v1/analytics/cohorts/?{NOVEMBER}&kind=enrollment&course=biology"
    ).json()
    assert [(r["cohort_week"], r["course"], r["retained"]) for r in biology] == [
        ("2026-11-09", "biology", [2, 1, 0])
    ]
    by_course = client.get(f"/api/v1/analytics/cohorts/?{NOVEMBER}&breakdown=course").json()
    assert {(r["cohort_week"], r["breakdown_value"]) for r in by_course} == {
        ("2026-11-02", "algebra"),
        ("2026-11-02", "biology"),
        ("2026-11-09", "algebra"),  # london signed up that week and enrolled in both later
        ("2026-11-09", "biology"),
    }


def test_the_lifecycle_endpoint_answers_a_row_per_week(cohorts, make_key):
    rows = make_key("analytics:read").get(f"/api/v1/analytics/lifecycle/?{NOVEMBER}").json()
    assert [
        (r["week"], r["new"], r["returning"], r["resurrecting"], r["dormant"]) for r in rows
    ] == [
        ("2026-10-26", 0, 0, 0, 0),
        ("2026-11-02", 1, 0, 0, 0),
        ("2026-11-09", 2, 1, 0, 0),
        ("2026-11-16", 0, 2, 0, 1),
        ("2026-11-23", 0, 0, 1, 2),
    ]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("cohorts", "kind=monthly", "kind"),
        ("cohorts", "breakdown=shoe", "breakdown"),
        ("cohorts", "breakdown=course&course=biology", "breakdown"),
        ("cohorts", "course=nope", "course"),
        ("cohorts", "from=2026-11-30&to=2026-11-01", "to"),
        ("lifecycle", "from=yesterday", "from"),
        ("lifecycle", "course=nope", "course"),
    ],
)
def test_bad_values_get_a_400_naming_the_field(cohorts, make_key, path, query, field):
    response = make_key("analytics:read").get(f"/api/v1/analytics/{path}/?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.parametrize("path", ["cohorts", "lifecycle"])
def test_students_get_403_and_instructors_only_their_own_course(cohorts, make_key, path):
    url = f"/api/v1/analytics/{path}/?{NOVEMBER}"
    assert session(cohorts["tokyo"]).get(url).status_code == 403
    assert session(cohorts["tokyo"]).get(f"{url}&course=biology").status_code == 403
    instructor = session(cohorts["instructor"])
    assert instructor.get(f"{url}&course=biology").status_code == 200
    assert instructor.get(f"{url}&course=algebra").status_code == 403
    assert instructor.get(url).status_code == 403  # the platform is staff's
    assert make_key("scores:read").get(url).status_code == 403
    assert APIClient().get(url).status_code in (401, 403)


def test_the_api_index_lists_both(client):
    index = client.get("/api/v1/").json()
    assert index["analytics/cohorts"].endswith("/api/v1/analytics/cohorts/")
    assert index["analytics/lifecycle"].endswith("/api/v1/analytics/lifecycle/")
