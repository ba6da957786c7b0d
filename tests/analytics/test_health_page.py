"""The health page: periodic tasks and their states, queues, ingestion, runs; staff only."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from celery.schedules import crontab
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tasks import clear_expired_sessions
from analytics.selectors.health import schedule_period, task_states
from analytics.services.aggregates import aggregates_refresh
from analytics.services.health import task_health_failed, task_health_succeeded
from engagement.services.scoring import scoring_run_start
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff() -> Client:
    return signed_in(UserFactory(is_staff=True, role=User.Role.ADMIN))


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_periods_are_the_longest_wait_between_runs():
    assert schedule_period(crontab(minute=5)) == HOUR
    assert schedule_period(crontab(hour=1, minute=30)) == DAY
    # Weekdays at 09:00: the wait over the weekend is what makes a run late.
    assert schedule_period(crontab(hour=9, minute=0, day_of_week="mon-fri")) == 3 * DAY
    assert schedule_period(60) == datetime.timedelta(minutes=1)


def test_a_task_is_failing_after_a_failure_and_stale_without_a_recent_success():
    now = timezone.now()
    # Hourly: succeeded 30 minutes ago -> ok; nightly: last success 3 days ago -> stale.
    task_health_succeeded(task="engagement.evaluate_alerts", at=now - 30 * MINUTE, seconds=1)
    task_health_succeeded(task="analytics.refresh", at=now - 3 * DAY, seconds=5)
    # Failed after its last success -> failing; every minute, succeeded again a minute ago -> ok.
    task_health_succeeded(task="engagement.score_all", at=now - 2 * HOUR, seconds=9)
    task_health_failed(
        task="engagement.score_all", at=now - HOUR, seconds=2, exception=RuntimeError("disk full")
    )
    task_health_failed(
        task="interventions.send_due", at=now - 2 * HOUR, seconds=1, exception=RuntimeError("x")
    )
    task_health_succeeded(task="interventions.send_due", at=now - MINUTE, seconds=1)

    states = {t.entry: t.state for t in task_states(now)}
    assert states["engagement.evaluate_alerts"] == "ok"
    assert states["analytics.refresh"] == "stale"
    assert states["engagement.score_all"] == "failing"
    assert states["interventions.send_due"] == "ok"
    assert states["video.poll_mediaconvert"] == "stale"  # never succeeded


def test_staff_see_every_scheduled_task_with_its_state(eager):
    clear_expired_sessions.delay()
    task_health_failed(
        task="engagement.score_all",
        at=timezone.now(),
        seconds=3,
        exception=RuntimeError("no model for ada@example.com"),
    )

    page = staff().get("/dashboard/analytics/health/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "<code>accounts.clear_expired_sessions</code>" in html
    assert "<code>gamification.settle_streaks</code>" in html
    assert 'data-state="failing"' in html and "RuntimeError: no model for &lt;address&gt;" in html
    assert 'data-state="ok"' in html
    assert 'id="run-durations"' not in html  # no run yet: an empty state instead
    assert "No scoring run yet" in html and "No aggregate run yet" in html
    assert "No event was received in the last 24 hours" in html
    assert 'href="/dashboard/analytics/health/" aria-current="page"' in html
    # The page is about now, not the other pages' date range.
    assert f"As of {timezone.now():%-d %b %Y}" in html and " \u2013 " not in html


def test_before_any_worker_reported_the_page_says_so():
    html = staff().get("/dashboard/analytics/health/").content.decode()
    assert "No periodic task has reported an outcome yet" in html


def test_ingestion_and_runs_appear_with_their_charts():
    course = CourseFactory()
    EnrollmentFactory(course=course)
    make_events(UserFactory(), [("login", timezone.now() - HOUR)] * 1)
    scoring_run_start(execute_now=True)
    aggregates_refresh()

    html = staff().get("/dashboard/analytics/health/").content.decode()

    assert 'id="ingestion-rate"' in html
    assert 'id="run-durations"' in html
    assert "1 event in 24 hours" in html
    assert "No scoring run yet" not in html and "No aggregate run yet" not in html


def test_each_table_exports_as_csv(eager):
    clear_expired_sessions.delay()
    course = CourseFactory()
    EnrollmentFactory(course=course)
    run = scoring_run_start(execute_now=True)
    client = staff()

    tasks = rows_of(client.get("/dashboard/analytics/health/?format=csv&table=tasks"))
    assert tasks[0][:4] == ["entry", "task", "schedule", "state"]
    by_entry = {r[0]: r for r in tasks[1:]}
    assert by_entry["accounts.clear_expired_sessions"][3] == "ok"
    assert by_entry["accounts.clear_expired_sessions"][2] == "17 3 * * *"
    queues = rows_of(client.get("/dashboard/analytics/health/?format=csv&table=queues"))
    assert queues[0] == ["queue", "messages"] and queues[1][0] == "celery"
    scoring = rows_of(client.get("/dashboard/analytics/health/?format=csv&table=scoring"))
    assert scoring[1][:3] == [str(run.pk), "scoring", "done"] and scoring[1][6] == "1"
    ingestion = rows_of(client.get("/dashboard/analytics/health/?format=csv&table=ingestion"))
    assert len(ingestion) == 61
    aggregates = rows_of(client.get("/dashboard/analytics/health/?format=csv&table=aggregates"))
    assert aggregates == [
        ["id", "kind", "status", "started_at", "finished_at", "seconds", "items", "error"]
    ]


def test_an_unknown_table_is_a_400_naming_the_field():
    response = staff().get("/dashboard/analytics/health/?format=csv&table=users")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "table: Choose one of tasks, queues, ingestion, scoring, aggregates.",
        "fields": {"table": ["Choose one of tasks, queues, ingestion, scoring, aggregates."]},
    }


def test_instructors_and_students_get_a_403_and_visitors_the_login_page():
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    CourseFactory(instructor=instructor)
    assert signed_in(instructor).get("/dashboard/analytics/health/").status_code == 403
    assert signed_in(UserFactory()).get("/dashboard/analytics/health/").status_code == 403
    response = Client().get("/dashboard/analytics/health/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_health_tab_shows_for_staff_only():
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    CourseFactory(instructor=instructor)
    assert "/dashboard/analytics/health/" in staff().get("/dashboard/analytics/").content.decode()
    trends = signed_in(instructor).get("/dashboard/analytics/trends/").content.decode()
    assert "/dashboard/analytics/health/" not in trends
