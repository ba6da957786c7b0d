"""The live-sessions page, the no-shows API, the command and the task: who sees what."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.selectors.no_show import upcoming_sessions
from analytics.services.no_show import no_show_model_train, no_shows_predict
from analytics.tasks import predict_no_shows, train_no_show_model
from analytics.views.layout import TABS
from tests.accounts.factories import AdminFactory, InstructorFactory, UserFactory
from tests.analytics.live_history import attend, register, schedule
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sessions():
    """Two courses by two instructors; Ann misses every session of py101, Bob comes."""
    now = timezone.now()
    ada, ben = InstructorFactory(), InstructorFactory()
    py = CourseFactory(external_id="py101", title="Python 101", instructor=ada)
    ml = CourseFactory(external_id="ml", title="Machine Learning", instructor=ben)
    ann = UserFactory(email="ann@example.com", external_id="ann", first_name="Ann")
    bob = UserFactory(email="bob@example.com", external_id="bob", first_name="Bob")
    for user in (ann, bob):
        EnrollmentFactory(user=user, course=py, enrolled_at=now - 30 * D)
    for i in range(3):
        past = schedule(py, f"past-{i}", now - (5 - i) * D)
        register(past, [ann, bob], at=now - 10 * D)
        attend(past, py, {ann: False, bob: True}, now - (5 - i) * D + H)
    register(
        schedule(py, "py-next", now + 6 * H, title="Python office hour"), [ann, bob], at=now - D
    )
    register(schedule(ml, "ml-next", now + 20 * H, title="ML lab"), [bob], at=now - D)
    no_shows_predict(now=now)
    return {"ada": ada, "ben": ben, "ann": ann, "bob": bob}


def test_the_tab_is_listed_for_instructors_too():
    tab = next(t for t in TABS if t.url_name == "analytics:live_sessions")
    assert (tab.label, tab.platform) == ("Live sessions", False)


def test_staff_see_every_upcoming_session_riskiest_learner_first(sessions, staff_user):
    response = signed_in(staff_user).get("/dashboard/analytics/live-sessions/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Python office hour" in body and "ML lab" in body
    assert body.index("ann") < body.index("bob", body.index("Python office hour"))
    assert "missed 3 of 3 earlier sessions" in body
    assert "weighted baseline" in body
    assert 'id="no-show-chart"' in body


def test_instructors_see_their_own_courses_and_students_nothing(sessions):
    ben_sees = signed_in(sessions["ben"]).get("/dashboard/analytics/live-sessions/")
    assert ben_sees.status_code == 200
    assert "ML lab" in ben_sees.content.decode()
    assert "Python office hour" not in ben_sees.content.decode()

    assert signed_in(sessions["ann"]).get("/dashboard/analytics/live-sessions/").status_code == 403
    anonymous = Client().get("/dashboard/analytics/live-sessions/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_empty_page_says_how_to_schedule_sessions(staff_user):
    response = signed_in(staff_user).get("/dashboard/analytics/live-sessions/")

    assert response.status_code == 200
    assert "PUT /api/v1/live-sessions/{external_id}/" in response.content.decode()
    assert "No model trained yet" in response.content.decode()


def test_the_page_exports_csv(sessions, staff_user):
    response = signed_in(staff_user).get("/dashboard/analytics/live-sessions/?format=csv")

    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("session,title,course,starts_at,user,probability")
    assert len(lines) == 4


def test_the_api_answers_upcoming_registrations_riskiest_first(sessions, make_key):
    client = make_key("analytics:read")

    body = client.get("/api/v1/analytics/no-shows/").json()

    assert body["source"] == "baseline" and body["model"] is None
    assert [(r["session"], r["user"]) for r in body["results"]] == [
        ("py-next", "ann"),
        ("py-next", "bob"),  # Bob's two are alike: the sooner session first
        ("ml-next", "bob"),
    ]
    first = body["results"][0]
    assert first["source"] == "baseline" and 0 < first["probability"] < 1
    assert first["reasons"][0] == "missed 3 of 3 earlier sessions"
    only_ml = client.get("/api/v1/analytics/no-shows/?course=ml").json()["results"]
    assert [(r["session"], r["user"]) for r in only_ml] == [("ml-next", "bob")]


def test_the_api_checks_scope_course_and_instructor(sessions, make_key):
    assert make_key("courses:read").get("/api/v1/analytics/no-shows/").status_code == 403
    bad = make_key("analytics:read").get("/api/v1/analytics/no-shows/?course=ghost")
    assert bad.status_code == 400 and "course" in bad.json()["fields"]
    ben = Client()
    ben.force_login(sessions["ben"])
    assert ben.get("/api/v1/analytics/no-shows/?course=ml").status_code == 200
    assert ben.get("/api/v1/analytics/no-shows/?course=py101").status_code == 403


def test_upcoming_sessions_take_three_queries(sessions, django_assert_num_queries):
    with django_assert_num_queries(3):
        found = upcoming_sessions(now=timezone.now())
    assert [len(s.registrations) for s in found] == [2, 1]


def test_the_command_and_the_tasks_predict_and_train(sessions, capsys):
    call_command("predict_no_shows", "--train")
    out = capsys.readouterr().out
    assert "Not enough history: 6 outcomes" in out
    assert "3 registrations predicted (baseline)" in out
    assert predict_no_shows() == 3
    assert train_no_show_model() is False


def test_admin_lists_sessions_registrations_cards_and_predictions(sessions):
    no_show_model_train()
    root = AdminFactory(email="root@example.com", password="pw-root-12345", is_superuser=True)
    client = signed_in(root)
    pages = {
        "/admin/learning/livesession/": "Python office hour",
        "/admin/learning/livesessionregistration/": "ann@example.com",
        "/admin/analytics/noshowmodel/": "Not enough history",
        "/admin/analytics/noshowprediction/": "baseline",
    }
    for url, text in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text.lower() in response.content.decode().lower(), url
    session = client.get("/admin/learning/livesession/?q=py-next")
    assert "Python office hour" in session.content.decode()
    # Cards and predictions are written by the services only.
    assert client.get("/admin/analytics/noshowprediction/add/").status_code == 403
