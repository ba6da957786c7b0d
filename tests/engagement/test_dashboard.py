"""The staff at-risk dashboard, its htmx partials, Recalculate all, and the learner page."""

from __future__ import annotations

import datetime
import re

import plotly.graph_objects as go
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engagement import charts
from engagement.models import Alert, AlertRule, PersonalizationProfile, ScoringRun
from engagement.scoring.signals import SIGNALS
from engagement.selectors import dashboard as selectors
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/engagement/"
LIST = "/dashboard/engagement/at-risk/"


def learner_url(user) -> str:
    return f"/dashboard/engagement/learners/{user.pk}/"


def listed_emails(html: str) -> list[str]:
    """Learner emails in list order (the link text falls back to the email without a name)."""
    return re.findall(r'<div class="muted small">([^<\s]+@example\.com)', html)


# --- permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        DASHBOARD,
        LIST,
        "/dashboard/engagement/runs/1/progress/",
        "/dashboard/engagement/learners/1/",
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=" in response["Location"]


def test_students_are_refused(student_client, student, scored):
    for url in (DASHBOARD, LIST, learner_url(student), learner_url(scored.learners["ada"])):
        response = student_client.get(url)
        assert response.status_code == 403
        # Nothing of the learners leaks: not the riskiest one's name, nor her score as the pages
        # print it (a bare "92" can occur in the page's random CSRF token or CSP nonce).
        assert b"ada@example.com" not in response.content
        assert b"Ada Learner" not in response.content
        assert b">92<" not in response.content
    assert student_client.post("/dashboard/engagement/recalculate/").status_code == 403
    assert ScoringRun.objects.filter(requested_by=student).count() == 0


def test_staff_see_the_dashboard(page_client, scored):
    response = page_client.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert "At-risk learners" in html
    # plotly.js and htmx come from our static files, never a CDN.
    assert "/static/vendor/plotly/plotly.min.js" in html
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert "cdn" not in html.lower()


# --- empty states ----------------------------------------------------------------------------


def test_empty_dashboard_says_how_to_get_scores(page_client):
    response = page_client.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert "No learners have been scored yet — run Recalculate all" in html
    assert "Recalculate all" in html
    assert "risk-histogram" not in html


def test_running_run_without_results_shows_empty_state_and_progress(page_client):
    run = make_run(datetime.date(2026, 3, 2), status=ScoringRun.Status.RUNNING)
    run.total, run.processed = 200, 50
    run.save()

    html = page_client.get(DASHBOARD).content.decode()

    assert "No learners have been scored yet" in html
    assert f"Scoring run #{run.pk}" in html
    assert "25%" in html


def test_list_partial_says_when_no_one_is_above_the_threshold(page_client, scored):
    html = page_client.get(LIST, {"threshold": 95}).content.decode()

    assert "No learners with risk at or above 95" in html
    assert "<table" not in html


def test_unscored_learner_page_has_an_empty_state(page_client, student):
    response = page_client.get(learner_url(student))

    assert response.status_code == 200
    html = response.content.decode()
    assert "has not been scored yet" in html
    assert "No personalization profile yet" in html


def test_unknown_learner_is_404(page_client):
    assert page_client.get("/dashboard/engagement/learners/999999/").status_code == 404


# --- stats, charts and list ------------------------------------------------------------------


def test_dashboard_shows_stats_charts_and_the_riskiest_first(page_client, scored):
    html = page_client.get(DASHBOARD).content.decode()

    assert re.search(r'data-stat="total">5<', html)
    assert re.search(r'data-stat="critical">1<', html)
    assert re.search(r'data-stat="high">2<', html)
    assert re.search(r'data-stat="medium">1<', html)
    assert re.search(r'data-stat="at-risk-share">60.0%<', html)
    # Both charts are embedded as Plotly divs.
    assert 'id="risk-histogram"' in html
    assert 'id="risk-trend"' in html
    assert html.count("data-plotly-figure=") == 2
    # Default threshold 60: three learners, riskiest first; older run's scores do not count.
    assert listed_emails(html) == ["ada@example.com", "ben@example.com", "cy@example.com"]
    assert "Inactive for 12 days" in html  # top driver
    assert "Gentle reminder" in html  # first recommendation
    assert f'href="/dashboard/engagement/learners/{scored.learners["ada"].pk}/"' in html


def test_threshold_level_and_course_filters_narrow_the_partial(page_client, scored):
    low = page_client.get(LIST, {"threshold": 40}).content.decode()
    assert listed_emails(low) == [
        "ada@example.com",
        "ben@example.com",
        "cy@example.com",
        "dee@example.com",
    ]

    high = page_client.get(LIST, {"threshold": 0, "level": "high"}).content.decode()
    assert listed_emails(high) == ["ben@example.com", "cy@example.com"]

    in_course = page_client.get(LIST, {"threshold": 0, "course": "py101"}).content.decode()
    assert listed_emails(in_course) == ["ada@example.com", "cy@example.com", "eve@example.com"]


def test_partial_is_a_fragment_that_updates_the_stats_out_of_band(page_client, scored):
    response = page_client.get(
        LIST, {"threshold": 70, "course": "py101"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<body" not in html
    assert 'id="stats" class="stats" hx-swap-oob="true"' in html
    # In py101 (ada 92, cy 61, eve 10) one of three is at or above 70.
    assert re.search(r'data-stat="total">3<', html)
    assert re.search(r'data-stat="at-risk-share">33.3%<', html)
    assert response["HX-Push-Url"] == "/dashboard/engagement/?threshold=70&course=py101"


def test_bad_filter_values_are_reported_not_crashed(page_client, scored):
    response = page_client.get(LIST, {"threshold": "150", "level": "nope", "course": "zzz"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "threshold:" in html and "level:" in html and "course:" in html
    # Defaults apply meanwhile: the list is still the default view.
    assert listed_emails(html) == ["ada@example.com", "ben@example.com", "cy@example.com"]


def test_list_is_paginated(page_client, scored):
    run = scored.run
    for i in range(30):
        make_score(run, UserFactory(email=f"bulk{i:02d}@example.com"), 70)

    first = page_client.get(LIST, {"threshold": 70}).content.decode()
    second = page_client.get(LIST, {"threshold": 70, "page": 2}).content.decode()

    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert len(listed_emails(first)) == 25
    assert len(listed_emails(second)) == 7  # ada, ben + 30 bulk = 32
    assert not set(listed_emails(first)) & set(listed_emails(second))
    assert 'hx-get="/dashboard/engagement/at-risk/?threshold=70&page=2"' in first


# --- Recalculate all and progress ------------------------------------------------------------


def test_recalculate_creates_a_run_and_returns_its_polling_progress_bar(
    page_client, staff_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = page_client.post(
            "/dashboard/engagement/recalculate/", headers={"HX-Request": "true"}
        )

    assert response.status_code == 200
    run = ScoringRun.objects.get(requested_by=staff_user)
    assert run.status in {ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING}
    html = response.content.decode()
    assert f'hx-get="/dashboard/engagement/runs/{run.pk}/progress/"' in html
    assert 'hx-trigger="every 1s"' in html


def test_recalculate_without_htmx_redirects_back(page_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = page_client.post("/dashboard/engagement/recalculate/")

    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert ScoringRun.objects.count() == 1


def test_recalculate_needs_post_and_csrf(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    assert client.get("/dashboard/engagement/recalculate/").status_code == 405
    assert client.post("/dashboard/engagement/recalculate/").status_code == 403
    assert ScoringRun.objects.count() == 0


def test_progress_partial_polls_until_the_run_is_done(page_client):
    run = make_run(datetime.date(2026, 3, 2), status=ScoringRun.Status.RUNNING)
    run.total, run.processed = 400, 100
    run.save()
    url = f"/dashboard/engagement/runs/{run.pk}/progress/"

    running = page_client.get(url).content.decode()
    assert "25%" in running
    assert 'aria-valuenow="25"' in running
    assert 'hx-trigger="every 1s"' in running

    run.processed, run.status = 400, ScoringRun.Status.DONE
    run.finished_at = run.created_at
    run.save()
    done = page_client.get(url).content.decode()
    assert "100%" in done
    assert "hx-trigger" not in done  # polling stops
    assert "Show the new results" in done


def test_progress_of_an_unknown_run_is_404(page_client):
    assert page_client.get("/dashboard/engagement/runs/999999/progress/").status_code == 404


# --- learner page ----------------------------------------------------------------------------


def test_learner_page_shows_signals_drivers_history_recommendations_alerts_profile(
    page_client, scored
):
    ada = scored.learners["ada"]
    rule = AlertRule.objects.get_or_create(
        code=AlertRule.Code.CRITICAL_RISK, defaults={"name": "Critical drop-off risk"}
    )[0]
    Alert.objects.create(rule=rule, user=ada, priority=90, message="Risk 92, up from 50")
    Alert.objects.create(
        rule=AlertRule.objects.get_or_create(
            code=AlertRule.Code.INACTIVE_14_DAYS, defaults={"name": "No activity for 14 days"}
        )[0],
        user=ada,
        priority=60,
        message="Long resolved",
        status=Alert.Status.RESOLVED,
    )
    PersonalizationProfile.objects.create(
        user=ada, study_hours=[20, 21], preferred_days=[1, 3], best_send_hour=19, pace="steady"
    )

    response = page_client.get(learner_url(ada))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Learner" in html
    # Signals with their catalogue description and unit.
    recency = next(s for s in SIGNALS if s.name == "recency_days")
    assert "recency_days" in html
    assert recency.description.replace("(", "") in html.replace("(", "")
    assert "Recency and gaps" in html
    assert "legacy_signal" in html and "not in the current catalogue" in html
    # Drivers (table and bar chart), history chart with both runs.
    assert "Inactive for 12 days" in html and "+1.4" in html
    assert 'id="drivers-chart"' in html and 'id="history-chart"' in html
    assert "2026-03-01" in html and "2026-03-02" in html
    # Recommendations, only the open alert, the profile.
    assert "Human outreach" in html and "Risk is critical" in html
    assert "Risk 92, up from 50" in html
    assert "Long resolved" not in html
    assert "Monday, Wednesday" in html and "19:00" in html


# --- selectors: numbers and query counts -----------------------------------------------------


def test_stats_selector_numbers(scored):
    stats = selectors.at_risk_stats(run=scored.run, threshold=60)
    assert (stats.total, stats.critical, stats.high, stats.medium, stats.low) == (5, 1, 2, 1, 1)
    assert stats.at_risk == 3 and stats.at_risk_share == pytest.approx(0.6)
    assert stats.average_risk == pytest.approx((92 + 75 + 61 + 45 + 10) / 5, abs=0.1)


def test_histogram_and_trend_selectors(scored):
    make_score(scored.run, UserFactory(), 100)
    buckets = selectors.risk_histogram(run=scored.run)
    assert [b.count for b in buckets] == [0, 1, 0, 0, 1, 0, 1, 1, 0, 2]  # 100 joins 90-100
    assert (buckets[-1].low, buckets[-1].high) == (90, 100)

    trend = selectors.scoring_run_trend()
    assert [t.run_id for t in trend] == [scored.old_run.pk, scored.run.pk]  # oldest first
    assert trend[0].by_level == {"low": 0, "medium": 1, "high": 1, "critical": 0}
    assert trend[1].total == 6 and trend[1].by_level["critical"] == 2


def test_selectors_have_fixed_query_counts(scored, django_assert_num_queries):
    run = scored.run
    with django_assert_num_queries(1):
        selectors.at_risk_stats(run=run, threshold=60, course="py101")
    with django_assert_num_queries(1):
        rows = list(selectors.at_risk_list(run=run, threshold=0, course="py101"))
        # select_related: reading each learner costs nothing more.
        assert [r.user.email for r in rows] == [
            "ada@example.com",
            "cy@example.com",
            "eve@example.com",
        ]
    with django_assert_num_queries(1):
        selectors.risk_histogram(run=run)
    with django_assert_num_queries(2):
        selectors.scoring_run_trend()
    with django_assert_num_queries(1):  # summaries of finished runs come from the cache
        selectors.scoring_run_trend()
    with django_assert_num_queries(4):
        detail = selectors.learner_detail(user=scored.learners["ada"])
        assert [s.drop_off_risk for s in detail.history] == [50, 92]


def _count_page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_pages_cost_the_same_queries_for_5_or_45_learners(page_client, scored):
    counts = []
    for _ in range(2):
        cache.clear()
        counts.append(
            (
                _count_page_queries(page_client, DASHBOARD),
                _count_page_queries(page_client, LIST + "?threshold=0"),
                _count_page_queries(page_client, learner_url(scored.learners["ada"])),
            )
        )
        for i in range(40):
            make_score(scored.run, UserFactory(), 50 + i)
    assert counts[0] == counts[1]
    # session + user, then: courses, current run, stats, count, page, histogram, trend runs,
    # trend summaries, run in progress.
    assert counts[0][0] == 11
    # session + user, courses, current run, stats, count, page.
    assert counts[0][1] == 7
    # session + user, learner, latest score, history, alerts, profile.
    assert counts[0][2] == 7


def test_chart_specs_are_valid_plotly_figures(scored):
    """Charts skip validation at render time, so prove here that Plotly accepts every spec."""
    buckets = selectors.risk_histogram(run=scored.run)
    trend = selectors.scoring_run_trend()
    detail = selectors.learner_detail(user=scored.learners["ada"])

    histogram = go.Figure(charts.risk_histogram_figure(buckets))
    assert list(histogram.data[0].y) == [b.count for b in buckets]
    trend_fig = go.Figure(charts.risk_trend_figure(trend))
    assert [t.name for t in trend_fig.data] == ["Low", "Medium", "High", "Critical", "Average risk"]
    assert list(trend_fig.data[-1].y) == [t.average_risk for t in trend]
    drivers = go.Figure(charts.drivers_figure(detail.score.drivers))
    assert list(drivers.data[0].y) == ["quiz_mean_score", "events_7d", "recency_days"]
    history = go.Figure(charts.score_history_figure(detail.history))
    assert list(history.data[0].y) == [50, 92]
