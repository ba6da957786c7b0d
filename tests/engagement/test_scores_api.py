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


def score(
    run: ScoringRun, user, risk: int, level: str, course=None, never_started: bool = False
) -> EngagementScore:
    return EngagementScore.objects.create(
        run=run,
        user=user,
        course=course,
        never_started=never_started,
        as_of=run.as_of,
        drop_off_risk=risk,
        weekly_risk=risk // 2,
        monthly_risk=min(100, risk + 10),
        confidence=50,
        level=level,
    )


@pytest.fixture
def world() -> dict:
    """Current run: ada 85 in py101 and 30 in js201 (never started), ben 65 and cy 20 in js201."""
    py, js = CourseFactory(external_id="py101"), CourseFactory(external_id="js201")
    ada, ben, cy = (UserFactory(external_id=x) for x in ("ada", "ben", "cy"))
    EnrollmentFactory(user=ada, course=py)
    for user in (ada, ben, cy):
        EnrollmentFactory(user=user, course=js)
    old = ScoringRun.objects.create(
        as_of=AS_OF - datetime.timedelta(days=1),
        status="done",
        finished_at=datetime.datetime(2026, 3, 1, 3, tzinfo=datetime.UTC),
    )
    score(old, ada, 10, "low", py)
    run = ScoringRun.objects.create(
        as_of=AS_OF,
        status="done",
        finished_at=datetime.datetime(2026, 3, 2, 3, tzinfo=datetime.UTC),
    )
    score(run, ada, 85, "critical", py)
    score(run, ada, 30, "medium", js, never_started=True)
    score(run, ben, 65, "high", js)
    score(run, cy, 20, "low", js)
    ScoringRun.objects.create(as_of=AS_OF + datetime.timedelta(days=1))  # pending: ignored
    return {"ada": ada}


def users(response) -> list[str]:
    return [row["user"] for row in response.json()["results"]]


def rows(response) -> list[tuple[str, str, int]]:
    return [(r["user"], r["course"], r["drop_off_risk"]) for r in response.json()["results"]]


def test_students_and_other_scopes_are_refused(world, make_key) -> None:
    student = APIClient()
    student.force_login(world["ada"])
    assert student.get(URL).status_code == 403
    assert make_key("events:write").get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_latest_run_riskiest_first(world, make_key, staff_client) -> None:
    response = make_key("scores:read").get(URL)
    assert response.status_code == 200
    # A row per enrolment: ada twice, with a different risk in each course.
    assert rows(response) == [
        ("ada", "py101", 85),
        ("ben", "js201", 65),
        ("ada", "js201", 30),
        ("cy", "js201", 20),
    ]
    first = response.json()["results"][0]
    assert first["drop_off_risk"] == 85 and first["level"] == "critical"
    assert first["as_of"] == AS_OF.isoformat() and first["never_started"] is False
    assert response.json()["results"][2]["never_started"] is True
    assert staff_client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=high", ["ben"]),
        ("min_risk=60", ["ada", "ben"]),
        ("user=cy", ["cy"]),
        ("user=ada", ["ada", "ada"]),
        ("course=py101", ["ada"]),
        ("course=js201", ["ben", "ada", "cy"]),
        ("never_started=true", ["ada"]),
        ("never_started=false", ["ada", "ben", "cy"]),
        ("course=js201&never_started=true", ["ada"]),
        ("as_of=2026-03-01", ["ada"]),
        ("as_of=2026-03-03", []),
        ("page_size=1", ["ada"]),
    ],
)
def test_filters(world, make_key, query: str, expected: list[str]) -> None:
    response = make_key("scores:read").get(f"{URL}?{query}")
    assert response.status_code == 200
    assert users(response) == expected


def test_course_filter_gives_that_courses_risk(world, make_key) -> None:
    client = make_key("scores:read")
    assert rows(client.get(f"{URL}?course=py101&user=ada")) == [("ada", "py101", 85)]
    assert rows(client.get(f"{URL}?course=js201&user=ada")) == [("ada", "js201", 30)]


@pytest.mark.parametrize(
    "query", ["level=extreme", "min_risk=101", "as_of=yesterday", "never_started=maybe"]
)
def test_bad_filters_are_400_naming_the_field(world, make_key, query: str) -> None:
    response = make_key("scores:read").get(f"{URL}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["fields"]
