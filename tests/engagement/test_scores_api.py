"""GET /api/v1/engagement/scores/: permissions, the latest run, filters and bad input."""

from __future__ import annotations

import datetime

import pytest
from rest_framework.test import APIClient

from engagement.models import EngagementScore, ScoringRun
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/engagement/scores/"
AS_OF = datetime.date(2026, 3, 2)


def score(run: ScoringRun, user, risk: int, level: str) -> EngagementScore:
    return EngagementScore.objects.create(
        run=run,
        user=user,
        as_of=run.as_of,
        drop_off_risk=risk,
        weekly_risk=risk // 2,
        monthly_risk=min(100, risk + 10),
        confidence=50,
        level=level,
    )


@pytest.fixture
def world() -> dict:
    course = CourseFactory(external_id="py101")
    ada, ben, cy = (UserFactory(external_id=x) for x in ("ada", "ben", "cy"))
    EnrollmentFactory(user=ada, course=course)
    old = ScoringRun.objects.create(
        as_of=AS_OF - datetime.timedelta(days=1),
        status="done",
        finished_at=datetime.datetime(2026, 3, 1, 3, tzinfo=datetime.UTC),
    )
    score(old, ada, 10, "low")
    run = ScoringRun.objects.create(
        as_of=AS_OF,
        status="done",
        finished_at=datetime.datetime(2026, 3, 2, 3, tzinfo=datetime.UTC),
    )
    score(run, ada, 85, "critical")
    score(run, ben, 65, "high")
    score(run, cy, 20, "low")
    ScoringRun.objects.create(as_of=AS_OF + datetime.timedelta(days=1))  # pending: ignored
    return {"ada": ada}


def users(response) -> list[str]:
    return [row["user"] for row in response.json()["results"]]


def test_students_and_other_scopes_are_refused(world, make_key) -> None:
    student = APIClient()
    student.force_login(world["ada"])
    assert student.get(URL).status_code == 403
    assert make_key("events:write").get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_latest_run_riskiest_first(world, make_key, staff_client) -> None:
    response = make_key("scores:read").get(URL)
    assert response.status_code == 200
    assert users(response) == ["ada", "ben", "cy"]
    first = response.json()["results"][0]
    assert first["drop_off_risk"] == 85 and first["level"] == "critical"
    assert first["as_of"] == AS_OF.isoformat()
    assert staff_client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=high", ["ben"]),
        ("min_risk=60", ["ada", "ben"]),
        ("user=cy", ["cy"]),
        ("course=py101", ["ada"]),
        ("as_of=2026-03-01", ["ada"]),
        ("as_of=2026-03-03", []),
        ("page_size=1", ["ada"]),
    ],
)
def test_filters(world, make_key, query: str, expected: list[str]) -> None:
    response = make_key("scores:read").get(f"{URL}?{query}")
    assert response.status_code == 200
    assert users(response) == expected


@pytest.mark.parametrize("query", ["level=extreme", "min_risk=101", "as_of=yesterday"])
def test_bad_filters_are_400_naming_the_field(world, make_key, query: str) -> None:
    response = make_key("scores:read").get(f"{URL}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["fields"]
