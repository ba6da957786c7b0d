from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from learning.models import Course, Enrollment, Lesson

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(integrator):
    integrator.post(
        "/api/v1/users/bulk/",
        {
            "items": [
                {"external_id": "teach", "email": "t@example.com", "role": "instructor"},
                {"external_id": "stu", "email": "s@example.com"},
                {"external_id": "stu2", "email": "s2@example.com"},
            ]
        },
        format="json",
    )
    integrator.put("/api/v1/courses/py101/", {"title": "Python 101"}, format="json")
    return integrator


def test_course_upsert_creates_then_updates(integrator, catalogue):
    response = integrator.put(
        "/api/v1/courses/ml/",
        {"title": "ML", "instructor": "teach", "starts_on": "2026-01-05", "ends_on": "2026-03-01"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["instructor"] == "teach"

    response = integrator.put("/api/v1/courses/ml/", {"title": "Machine Learning"}, format="json")

    assert response.status_code == 200
    course = Course.objects.get(external_id="ml")
    assert course.title == "Machine Learning"
    assert course.instructor.external_id == "teach"
    assert str(course.starts_on) == "2026-01-05"


def test_self_paced_course_has_no_dates(catalogue):
    course = Course.objects.get(external_id="py101")
    assert course.is_self_paced


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "X", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}, "ends_on"),
        ({"title": "X", "instructor": "ghost"}, "instructor"),
        ({"title": "X", "starts_on": "tomorrow"}, "starts_on"),
        ({"title": ""}, "title"),
        ({"description": "no title"}, "title"),
    ],
)
def test_bad_course_input_is_400_naming_the_field(catalogue, body, field):
    response = catalogue.put("/api/v1/courses/new/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Course.objects.filter(external_id="new").exists()


def test_lesson_upsert_and_unknown_course(catalogue):
    ok = catalogue.put(
        "/api/v1/lessons/l1/",
        {"course": "py101", "position": 1, "title": "Intro", "duration_seconds": 600},
        format="json",
    )
    assert ok.status_code == 201
    assert ok.json()["course"] == "py101"

    bad = catalogue.put("/api/v1/lessons/l2/", {"course": "nope", "title": "x"}, format="json")
    assert bad.status_code == 400
    assert "No course" in bad.json()["fields"]["course"][0]

    negative = catalogue.put(
        "/api/v1/lessons/l3/", {"course": "py101", "title": "x", "position": -1}, format="json"
    )
    assert negative.status_code == 400
    assert "position" in negative.json()["fields"]
    assert list(Lesson.objects.values_list("external_id", flat=True)) == ["l1"]


def test_enrollment_upsert_by_user_and_course(catalogue):
    created = catalogue.put("/api/v1/enrollments/stu/py101/", {}, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "active"

    done = catalogue.put("/api/v1/enrollments/stu/py101/", {"status": "completed"}, format="json")

    assert done.status_code == 200
    enrollment = Enrollment.objects.get()
    assert enrollment.status == "completed"
    assert enrollment.completed_at is not None
    assert enrollment.withdrawn_at is None

    catalogue.put("/api/v1/enrollments/stu/py101/", {"status": "withdrawn"}, format="json")
    enrollment.refresh_from_db()
    assert (enrollment.completed_at, enrollment.withdrawn_at is not None) == (None, True)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/enrollments/stu/ghost-course/", {}, "course"),
        ("/api/v1/enrollments/ghost/py101/", {}, "user"),
        ("/api/v1/enrollments/stu/py101/", {"status": "paused"}, "status"),
        ("/api/v1/enrollments/stu/py101/", {"enrolled_at": "yesterday"}, "enrolled_at"),
        (
            "/api/v1/enrollments/stu/py101/",
            {
                "enrolled_at": "2026-05-01T00:00:00Z",
                "status": "completed",
                "completed_at": "2026-04-01T00:00:00Z",
            },
            "completed_at",
        ),
    ],
)
def test_bad_enrollment_is_400_naming_the_field(catalogue, url, body, field):
    response = catalogue.put(url, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Enrollment.objects.exists()


def test_enrollment_bulk_is_all_or_nothing(catalogue):
    items = [{"user": "stu", "course": "py101"}, {"user": "stu2", "course": "missing"}]
    response = catalogue.post("/api/v1/enrollments/bulk/", {"items": items}, format="json")
    assert response.status_code == 400
    assert "course" in response.json()["fields"]["items"]["1"]
    assert not Enrollment.objects.exists()

    items[1]["course"] = "py101"
    response = catalogue.post("/api/v1/enrollments/bulk/", {"items": items}, format="json")
    assert response.json() == {"created": 2, "updated": 0}
    filtered = catalogue.get("/api/v1/enrollments/?user=stu2").json()
    assert [e["user"] for e in filtered["results"]] == ["stu2"]


def test_course_bulk_upsert(integrator):
    items = [{"external_id": f"c{i}", "title": f"Course {i}"} for i in range(1500)]
    response = integrator.post("/api/v1/courses/bulk/", {"items": items}, format="json")
    assert response.json() == {"created": 1500, "updated": 0}
    assert integrator.get("/api/v1/courses/?page_size=10").json()["count"] == 1500


def test_student_sees_only_their_own_enrollments(catalogue):
    catalogue.post(
        "/api/v1/enrollments/bulk/",
        {"items": [{"user": "stu", "course": "py101"}, {"user": "stu2", "course": "py101"}]},
        format="json",
    )
    from accounts.models import User

    client = APIClient()
    client.force_login(User.objects.get(external_id="stu"))
    listed = client.get("/api/v1/enrollments/").json()
    assert [e["user"] for e in listed["results"]] == ["stu"]
    assert client.get("/api/v1/enrollments/stu2/py101/").status_code == 404
    assert client.get("/api/v1/courses/").status_code == 403


def test_catalogue_scopes(make_key):
    events_only = make_key("events:write")
    assert events_only.put("/api/v1/courses/c/", {"title": "x"}, format="json").status_code == 403
    assert (
        make_key("courses:write")
        .put("/api/v1/courses/c/", {"title": "x"}, format="json")
        .status_code
        == 201
    )


def test_options_on_an_enrollment_describes_it_instead_of_failing(catalogue):
    catalogue.put("/api/v1/enrollments/stu/py101/", {}, format="json")

    assert catalogue.options("/api/v1/enrollments/stu/py101/").status_code == 200
    assert catalogue.options("/api/v1/enrollments/0/0/").status_code == 200


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (f"/api/v1/courses/{'c' * 129}/", {"title": "x"}, "external_id"),
        (f"/api/v1/lessons/{'l' * 129}/", {"course": "py101", "title": "x"}, "external_id"),
        (f"/api/v1/enrollments/{'u' * 129}/py101/", {}, "user"),
        (f"/api/v1/enrollments/stu/{'c' * 129}/", {}, "course"),
    ],
)
def test_put_with_an_id_over_128_characters_is_400_naming_it(catalogue, url, body, field):
    response = catalogue.put(url, body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {
        field: ["Ensure this field has no more than 128 characters."]
    }
    assert Course.objects.count() == 1
    assert not Lesson.objects.exists() and not Enrollment.objects.exists()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_put_on_existing_rows_answers_the_stored_values(catalogue):
    catalogue.put("/api/v1/lessons/l1/", {"course": "py101", "title": "Intro"}, format="json")
    catalogue.put("/api/v1/enrollments/stu/py101/", {}, format="json")
    long_ago = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    Course.objects.filter(external_id="py101").update(created_at=long_ago, updated_at=long_ago)
    Lesson.objects.update(updated_at=long_ago)
    Enrollment.objects.update(enrolled_at=long_ago)

    course = catalogue.put("/api/v1/courses/py101/", {"title": "Python 1"}, format="json")
    lesson = catalogue.put("/api/v1/lessons/l1/", {"title": "Welcome"}, format="json")
    enrollment = catalogue.put(
        "/api/v1/enrollments/stu/py101/", {"status": "completed"}, format="json"
    )

    stored_course = Course.objects.get()
    assert _when(course.json()["created_at"]) == stored_course.created_at == long_ago
    assert _when(course.json()["updated_at"]) == stored_course.updated_at > long_ago
    assert _when(lesson.json()["updated_at"]) == Lesson.objects.get().updated_at > long_ago
    stored_enrollment = Enrollment.objects.get()
    assert _when(enrollment.json()["enrolled_at"]) == stored_enrollment.enrolled_at == long_ago
    assert _when(enrollment.json()["updated_at"]) == stored_enrollment.updated_at
    assert enrollment.json()["status"] == "completed"
