"""The insights page, its status buttons, the API and the admin pages."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from analytics.models import DailyAggregate, Insight, InsightRun
from analytics.selectors.insights import insight_list
from analytics.services.findings import WEEK, week_just_ended
from analytics.services.insights import insight_status_set, weekly_insights_write
from tests.accounts.factories import AdminFactory, UserFactory
from tests.analytics.test_insights import EVENTS, LAST_WEEK_DAU, THIS_WEEK_DAU, _aggregates

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(settings):
    """Two weeks of insights by the built-in writer: DAU fell in the earlier, rose in the
    latest."""
    settings.ANTHROPIC_API_KEY = ""
    week = week_just_ended()
    _aggregates(week - WEEK, THIS_WEEK_DAU, LAST_WEEK_DAU)  # the earlier week fell
    for i, (dau, events) in enumerate(zip(THIS_WEEK_DAU, EVENTS, strict=True)):
        # the latest week continues the series
        DailyAggregate.objects.create(day=week + datetime.timedelta(days=i), dau=dau, events=events)
    earlier = weekly_insights_write(week=week - WEEK)
    latest = weekly_insights_write(week=week)
    return earlier, latest


def page(client: Client, query: str = "") -> str:
    response = client.get(f"/dashboard/insights/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_with_no_run_the_page_says_how_to_write_insights(client, staff_user):
    client.force_login(staff_user)
    html = page(client)
    assert "No insights yet" in html and "manage.py weekly_insights" in html
    assert 'href="/dashboard/insights/" aria-current="page"' in html  # the analytics tab


def test_the_page_shows_the_weeks_insights_with_the_run_and_the_chart(client, staff_user, written):
    _, latest = written
    client.force_login(staff_user)
    html = page(client)
    dau = Insight.objects.get(week=latest.week, key="metric:dau")
    assert dau.headline in html and dau.recommendation in html
    assert "Built-in writer (no API key)" in html
    assert 'id="movements"' in html  # the metrics' movements chart
    assert 'href="/dashboard/analytics/trends/?metric=dau' in html  # See chart
    assert f'value="{(latest.week - WEEK).isoformat()}"' in html  # the earlier week to pick
    earlier = page(client, f"?week={(latest.week - WEEK).isoformat()}")
    assert f'id="insight-{dau.pk}"' not in earlier


def test_a_status_button_marks_the_insight_and_the_filter_finds_it(client, staff_user, written):
    _, latest = written
    dau = Insight.objects.get(week=latest.week, key="metric:dau")
    client.force_login(staff_user)
    response = client.post(
        f"/dashboard/insights/{dau.pk}/status/",
        {"status": "acknowledged", "next": "/dashboard/insights/?status=new"},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/insights/?status=new"
    dau.refresh_from_db()
    assert (dau.status, dau.status_by) == ("acknowledged", staff_user)
    card = f'id="insight-{dau.pk}"'
    assert card not in page(client, "?status=new")
    acknowledged = page(client, "?status=acknowledged")
    assert card in acknowledged and "Acknowledged by" in acknowledged

    bad = client.post(f"/dashboard/insights/{dau.pk}/status/", {"status": "done"})
    assert bad.status_code == 400 and "status" in bad.content.decode()
    assert client.post("/dashboard/insights/999999/status/", {"status": "new"}).status_code == 404


def test_only_staff_see_the_page(client, written):
    assert client.get("/dashboard/insights/").status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get("/dashboard/insights/").status_code == 403
    client.force_login(UserFactory(role="instructor"))
    assert client.get("/dashboard/insights/").status_code == 403
    dau = Insight.objects.first()
    assert (
        client.post(f"/dashboard/insights/{dau.pk}/status/", {"status": "new"}).status_code == 403
    )


def test_the_api_lists_insights_newest_week_first_with_filters(make_key, written, staff_user):
    earlier, latest = written
    client = make_key("analytics:read")
    body = client.get("/api/v1/analytics/insights/").json()
    weeks = [row["week"] for row in body["results"]]
    assert body["count"] == earlier.findings + latest.findings
    assert weeks == sorted(weeks, reverse=True) and weeks[0] == latest.week.isoformat()
    dau = next(r for r in body["results"] if r["key"] == "metric:dau")
    assert dau["writer"] == "deterministic" and dau["significant"] is True
    assert dau["figures"]["this_week"] == pytest.approx(56.0)

    insight_status_set(
        insight=Insight.objects.get(week=latest.week, key="metric:dau"),
        status="dismissed",
        actor=staff_user,
    )
    one = client.get(f"/api/v1/analytics/insights/?week={latest.week + datetime.timedelta(days=2)}")
    assert {r["week"] for r in one.json()["results"]} == {latest.week.isoformat()}
    dismissed = client.get("/api/v1/analytics/insights/?status=dismissed").json()["results"]
    assert [(r["key"], r["status_by"]) for r in dismissed] == [("metric:dau", staff_user.email)]
    assert client.get("/api/v1/analytics/insights/?page_size=1").json()["next"]


def test_the_api_refuses_bad_filters_and_callers_without_the_scope(make_key, written):
    bad = make_key("analytics:read").get("/api/v1/analytics/insights/?status=done&week=x")
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"status", "week"}
    assert make_key("events:write").get("/api/v1/analytics/insights/").status_code == 403
    instructor = APIClient()
    instructor.force_authenticate(UserFactory(role="instructor"))
    assert instructor.get("/api/v1/analytics/insights/").status_code == 403


def test_the_api_is_read_only(integrator, staff_client, written):
    # No key scope writes analytics, and staff set statuses on the page.
    assert integrator.patch("/api/v1/analytics/insights/", {}).status_code == 403
    assert staff_client.post("/api/v1/analytics/insights/", {}).status_code == 405
    assert not Insight.objects.exclude(status="new").exists()


def test_listing_a_weeks_insights_is_one_query(written, staff_user, django_assert_num_queries):
    _, latest = written
    for insight in Insight.objects.all():
        insight_status_set(insight=insight, status="acted_on", actor=staff_user)
    with django_assert_num_queries(1):
        rows = list(insight_list(week=latest.week))
        assert [r.status_by.email for r in rows] == [staff_user.email] * len(rows)


def test_the_admin_pages_list_runs_and_insights(client, written):
    client.force_login(AdminFactory(email="root@example.com", is_superuser=True))
    assert client.get("/admin/analytics/insightrun/").status_code == 200
    response = client.get("/admin/analytics/insight/")
    assert response.status_code == 200 and "Mark acknowledged" in response.content.decode()
    run = InsightRun.objects.first()
    assert client.get(f"/admin/analytics/insightrun/{run.pk}/change/").status_code == 200


def test_the_api_root_lists_the_insights(api_client):
    root = api_client.get("/api/v1/").json()
    assert root["analytics/insights"].endswith("/api/v1/analytics/insights/")


def test_the_admin_action_acknowledges_the_chosen_insights(client, written):
    root = AdminFactory(email="root@example.com", is_superuser=True)
    client.force_login(root)
    chosen = list(Insight.objects.values_list("pk", flat=True))
    response = client.post(
        "/admin/analytics/insight/",
        {"action": "mark_acknowledged", "_selected_action": chosen},
    )
    assert response.status_code == 302
    assert set(Insight.objects.values_list("status", "status_by")) == {("acknowledged", root.pk)}


def test_the_page_reads_a_fixed_number_of_queries_however_many_insights(
    client, staff_user, written, django_assert_max_num_queries
):
    _, latest = written
    for insight in Insight.objects.all():
        insight_status_set(insight=insight, status="acknowledged", actor=staff_user)
    client.force_login(staff_user)
    with CaptureQueriesContext(connection) as one_insight:
        page(client, f"?week={latest.week}")
    # Copies of the week's insight (as a rerun with more findings would store) add no query.
    dau = Insight.objects.get(week=latest.week)
    for n in range(5):
        Insight.objects.create(
            run=latest,
            week=latest.week,
            key=f"copy:{n}",
            kind=dau.kind,
            position=n + 1,
            title=dau.title,
            headline=dau.headline,
            body=dau.body,
            recommendation=dau.recommendation,
            figures=dau.figures,
            chart_url=dau.chart_url,
            status="acted_on",
            status_by=staff_user,
        )
    with django_assert_max_num_queries(len(one_insight)):
        assert page(client, f"?week={latest.week}").count('class="card insight-card') == 6


def test_a_bad_or_empty_week_says_so(client, staff_user, written):
    _, latest = written
    client.force_login(staff_user)
    html = page(client, "?week=nonsense")
    assert "is not a date (YYYY-MM-DD); showing the latest week" in html
    assert f"Week of {latest.week:%-d %b %Y} (Monday to Sunday)" in html
    assert "No insights for the week of 1 Jan 2001" in page(client, "?week=2001-01-03")
