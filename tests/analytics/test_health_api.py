"""GET /api/v1/analytics/health/: the health figures as JSON, for staff and analytics keys."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tasks import clear_expired_sessions
from analytics.services.health import task_health_failed
from engagement.services.scoring import scoring_run_start
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/health/"


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_analytics_key_reads_tasks_queues_ingestion_and_runs(make_key, eager):
    clear_expired_sessions.delay()
    task_health_failed(
        task="engagement.score_all",
        at=timezone.now(),
        seconds=1.5,
        exception=KeyError("bob@example.com"),
    )
    EnrollmentFactory(course=CourseFactory())
    make_events(UserFactory(), [("login", timezone.now())])
    run = scoring_run_start(execute_now=True)

    response = make_key("analytics:read").get(URL)

    assert response.status_code == 200
    body = response.json()
    tasks = {t["entry"]: t for t in body["tasks"]}
    assert tasks["accounts.clear_expired_sessions"]["state"] == "ok"
    assert tasks["accounts.clear_expired_sessions"]["successes"] == 1
    assert tasks["accounts.clear_expired_sessions"]["period_seconds"] == 86400
    failing = tasks["engagement.score_all"]
    assert failing["state"] == "failing"
    assert failing["last_error"] == "KeyError: '<address>'"
    assert failing["last_failure_seconds"] == 1.5
    assert tasks["video.poll_mediaconvert"]["state"] == "stale"
    assert {"queue": "celery", "messages": body["queues"][0]["messages"]} in body["queues"]
    assert isinstance(body["queues"][0]["messages"], int)
    assert body["ingestion"]["last_hour"] == 1 and body["ingestion"]["last_day"] == 1
    assert len(body["ingestion"]["minutes"]) == 60
    assert sum(m["events"] for m in body["ingestion"]["minutes"]) == 1
    assert [(r["id"], r["kind"], r["status"], r["items"]) for r in body["scoring_runs"]] == [
        (run.pk, "scoring", "done", 1)
    ]
    assert body["aggregate_runs"] == []


def test_a_staff_session_reads_it(staff_client):
    assert staff_client.get(URL).status_code == 200


def test_a_key_without_the_scope_is_refused(make_key):
    response = make_key("scores:read").get(URL)
    assert response.status_code == 403
    assert set(response.json()) == {"code", "detail", "fields"}


def test_instructors_and_students_are_refused():
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    CourseFactory(instructor=instructor)
    assert session(instructor).get(URL).status_code == 403
    assert session(UserFactory()).get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_the_api_index_lists_it(api_client):
    index = api_client.get("/api/v1/").json()
    assert index["analytics/health"].endswith(URL)
