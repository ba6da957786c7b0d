"""GET /api/v1/leaderboards/{period}/: what integrators read, and what they may not."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gamification.models import LearnerGameProfile
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, award
from tests.gamification.test_leaderboards import backend, wipe_boards  # noqa: F401
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_boards_left_behind():
    """The hand-over counts this module's XP into Redis too: leave nothing there after."""
    yield
    wipe_boards()


@pytest.fixture
def earn(django_capture_on_commit_callbacks):
    action = XpActionFactory(code="lb-api-test", amount=10)

    def earn(user, amount, course=None):
        with django_capture_on_commit_callbacks(execute=True):
            award(user, action, amount=amount, course_id=course.pk if course else None)

    return earn


@pytest.fixture
def reader(make_key):
    return make_key("gamification:read")


def test_weekly_board_with_a_learner_far_down(backend, earn, reader):  # noqa: F811
    learners = [UserFactory(first_name=f"L{i}", last_name="Smith") for i in range(12)]
    for index, learner in enumerate(learners):
        earn(learner, 500 - index)
    me = learners[9]

    response = reader.get(f"/api/v1/leaderboards/weekly/?limit=3&around={me.external_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["period"] == "weekly"
    assert body["total"] == 12
    assert body["course"] is None
    assert [(r["rank"], r["user"], r["xp"]) for r in body["results"]] == [
        (1, learners[0].external_id, 500),
        (2, learners[1].external_id, 499),
        (3, learners[2].external_id, 498),
    ]
    assert body["results"][0]["name"] == "L0 S."
    assert body["around_rank"] == 10
    assert [(r["rank"], r["is_around"]) for r in body["around"]] == [
        (8, False),
        (9, False),
        (10, True),
        (11, False),
        (12, False),
    ]


def test_course_board_and_the_hidden_learner(backend, earn, reader):  # noqa: F811
    course = CourseFactory()
    shy, other = UserFactory(first_name="Greta"), UserFactory(first_name="Ben", last_name="Kim")
    earn(shy, 70, course)
    earn(other, 60, course)
    earn(other, 500)
    LearnerGameProfile.objects.filter(user=shy).update(show_on_leaderboards=False)

    body = reader.get(f"/api/v1/leaderboards/all_time/?course={course.external_id}").json()

    assert body["course"] == course.external_id
    assert body["starts_on"] is None and body["ends_on"] is None
    assert [(r["user"], r["name"], r["xp"], r["hidden"]) for r in body["results"]] == [
        (None, "a learner", 70, True),
        (other.external_id, "Ben K.", 60, False),
    ]


def test_daily_board_is_the_around_learners_own_day(reader, earn):
    tokyo = UserFactory(timezone="Asia/Tokyo")
    earn(tokyo, 10)

    body = reader.get(f"/api/v1/leaderboards/daily/?around={tokyo.external_id}").json()

    assert body["starts_on"] == timezone.now().astimezone(tokyo.tz).date().isoformat()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("course=no-such-course", "course"),
        ("around=no-such-learner", "around"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("around=%00", "around"),
    ],
)
def test_bad_query_is_a_400_naming_the_field(reader, query, field):
    response = reader.get(f"/api/v1/leaderboards/weekly/?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]


def test_an_unknown_period_is_not_found(reader):
    response = reader.get("/api/v1/leaderboards/yearly/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_read_scope_is_needed(make_key):
    response = make_key("events:write").get("/api/v1/leaderboards/daily/")

    assert response.status_code == 403
    assert "gamification:read" in response.json()["detail"]


def test_staff_sessions_read_it_and_students_do_not(staff_client):
    student = UserFactory()
    client = APIClient()
    client.force_login(student)

    assert staff_client.get("/api/v1/leaderboards/monthly/").status_code == 200
    assert client.get("/api/v1/leaderboards/monthly/").status_code == 403
    assert APIClient().get("/api/v1/leaderboards/monthly/").status_code in (401, 403)


def test_the_schema_documents_the_board(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/leaderboards/{period}/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["period"]["schema"]["enum"] == ["all_time", "daily", "monthly", "weekly"]
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert {"course", "around"} <= set(parameters)
    assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
