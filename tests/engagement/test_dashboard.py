"""The staff at-risk dashboard, its htmx partials, Recalculate all, and the learner page."""

from __future__ import annotations

import datetime
import json
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
from engagement.selectors import learners
from engagement.services.scoring import scoring_run_start
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events, make_run, make_score
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/engagement/"
LIST = "/dashboard/engagement/at-risk/"


def learner_url(user) -> str:
    return f"/dashboard/engagement/learners/{user.pk}/"


def listed_emails(html: str) -> list[str]:
    """Learner emails in list order (the link text falls back to the email without a name)."""
    return re.findall(r'<div class="muted small email" title="[^"]*">([^<\s]+@example\.com)', html)


def listed_rows(html: str) -> list[tuple[str, str]]:
    """(email, course external id) of each listed enrolment, in list order."""
    courses = re.findall(r'<tr data-risk="\d+" data-level="\w+" data-course="([^"]*)"', html)
    return list(zip(listed_emails(html), courses, strict=True))


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
    assert "No enrolments have been scored yet — run Recalculate all" in html
    assert "Recalculate all" in html
    assert "risk-histogram" not in html


def test_running_run_without_results_shows_empty_state_and_progress(page_client):
    run = make_run(datetime.date(2026, 3, 2), status=ScoringRun.Status.RUNNING)
    run.total, run.processed = 200, 50
    run.save()

    html = page_client.get(DASHBOARD).content.decode()

    assert "No enrolments have been scored yet" in html
    assert f"Scoring run #{run.pk}" in html
    assert "25%" in html


def test_list_partial_says_when_no_one_is_above_the_threshold(page_client, scored):
    html = page_client.get(LIST, {"threshold": 95}).content.decode()

    assert "No enrolments with risk at or above 95" in html
    assert "<table" not in html


def test_unscored_learner_page_says_why_without_sending_staff_to_recalculate(page_client, student):
    response = page_client.get(learner_url(student))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Not scored" in html and "no active enrolment" in html
    assert "Recalculate all" not in html  # it could not help: there is nothing to score
    assert "No personalization profile yet" in html


def test_unknown_learner_is_404(page_client):
    assert page_client.get("/dashboard/engagement/learners/999999/").status_code == 404


# --- stats, charts and list ------------------------------------------------------------------


def test_dashboard_shows_stats_charts_and_the_riskiest_first(page_client, scored):
    html = page_client.get(DASHBOARD).content.decode()

    # Six enrolments of five learners (ada is in two courses).
    assert re.search(r'data-stat="total">6<', html)
    assert re.search(r'data-stat="learners">5<', html)
    assert re.search(r'data-stat="critical">1<', html)
    assert re.search(r'data-stat="high">2<', html)
    assert re.search(r'data-stat="medium">1<', html)
    assert re.search(r'data-stat="at-risk-share">50.0%<', html)
    assert re.search(r'data-stat="at-risk-learners">3<', html)
    # Both charts are embedded as Plotly divs.
    assert 'id="risk-histogram"' in html
    assert 'id="risk-trend"' in html
    assert html.count("data-plotly-figure=") == 2
    # Default threshold 60: three enrolments, riskiest first, each with its course; the
    # older run's scores do not count.
    assert listed_rows(html) == [
        ("ada@example.com", "py101"),
        ("ben@example.com", "js201"),
        ("cy@example.com", "py101"),
    ]
    assert "Python 101" in html and "JavaScript 201" in html
    # The top raising driver as its whole sentence, never a cut signal name.
    assert "No activity for 12 days (the course&#x27;s typical gap is 3)" in html
    assert "Gentle reminder" in html  # first recommendation
    ada = scored.learners["ada"].pk
    assert f'href="/dashboard/engagement/learners/{ada}/?course=py101"' in html


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

    # The course filter lists that course's enrolments only: ada's js201 row (20) appears
    # under js201 and not under py101, where her row is 92.
    in_course = page_client.get(LIST, {"threshold": 0, "course": "py101"}).content.decode()
    assert listed_rows(in_course) == [
        ("ada@example.com", "py101"),
        ("cy@example.com", "py101"),
        ("eve@example.com", "py101"),
    ]
    other = page_client.get(LIST, {"threshold": 0, "course": "js201"}).content.decode()
    assert listed_rows(other) == [
        ("ben@example.com", "js201"),
        ("dee@example.com", "js201"),
        ("ada@example.com", "js201"),
    ]
    assert 'data-risk="20"' in other and 'data-risk="92"' not in other


def test_never_started_enrolments_are_badged_and_filterable(page_client, scored):
    fay = UserFactory(email="fay@example.com", first_name="Fay", last_name="Learner")
    EnrollmentFactory(user=fay, course=scored.course)
    make_score(scored.run, fay, 88, course=scored.course, never_started=True, confidence=12)

    html = page_client.get(DASHBOARD).content.decode()
    assert listed_emails(html)[:2] == ["ada@example.com", "fay@example.com"]
    assert html.count('class="badge badge-never"') == 1
    assert re.search(r'data-stat="never-started">1<', html)

    never = page_client.get(LIST, {"threshold": 0, "started": "never"}).content.decode()
    assert listed_rows(never) == [("fay@example.com", "py101")]
    assert "Never started" in never
    started = page_client.get(LIST, {"threshold": 0, "started": "started"}).content.decode()
    assert "fay@example.com" not in started and len(listed_rows(started)) == 6


def test_partial_is_a_fragment_that_updates_stats_and_charts_out_of_band(page_client, scored):
    response = page_client.get(
        LIST, {"threshold": 70, "course": "py101"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<body" not in html
    assert 'id="stats" class="stats" hx-swap-oob="true"' in html
    assert 'id="charts" class="chart-grid" hx-swap-oob="true"' in html
    # In py101 (ada 92, cy 61, eve 10) one of three is at or above 70.
    assert re.search(r'data-stat="total">3<', html)
    assert re.search(r'data-stat="at-risk-share">33.3%<', html)
    assert response["HX-Push-Url"] == "/dashboard/engagement/?threshold=70&course=py101"


def test_the_course_filter_applies_to_every_card_and_chart(page_client, scored):
    html = page_client.get(DASHBOARD, {"course": "js201"}).content.decode()

    # js201: ben 75, dee 45, ada 20.
    assert re.search(r'data-stat="total">3<', html)
    assert re.search(r'data-stat="critical">0<', html)
    assert re.search(r'data-stat="high">1<', html)
    assert re.search(r'data-stat="learners">3<', html)
    figures = {
        name: json.loads(
            re.search(
                rf'<script id="{name}-figure" type="application/json">(.*?)</script>', html
            ).group(1)
        )
        for name in ("risk-histogram", "risk-trend")
    }
    assert sum(figures["risk-histogram"]["data"][0]["y"]) == 3
    assert figures["risk-histogram"]["data"][0]["y"][2] == 1  # ada's 20 in 20-29
    trend = {t["name"]: t["y"] for t in figures["risk-trend"]["data"]}
    assert trend["High"] == [1, 1]  # ben 70 in the old run, 75 now
    assert trend["Critical"] == [0, 0]  # ada's 92 is in py101
    assert trend["Average risk"] == [70.0, round((75 + 45 + 20) / 3, 1)]


def test_bad_filter_values_are_reported_not_crashed(page_client, scored):
    response = page_client.get(LIST, {"threshold": "150", "level": "nope", "course": "zzz"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "threshold:" in html and "level:" in html and "course:" in html
    # Defaults apply meanwhile: the list is still the default view.
    assert listed_emails(html) == ["ada@example.com", "ben@example.com", "cy@example.com"]
    bad_started = page_client.get(LIST, {"started": "maybe"})
    assert bad_started.status_code == 400 and "started:" in bad_started.content.decode()


def test_list_is_paginated(page_client, scored):
    run = scored.run
    for i in range(30):
        make_score(run, UserFactory(email=f"bulk{i:02d}@example.com"), 70, course=scored.course)

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


def test_learner_page_shows_each_enrolment_and_the_riskiest_in_detail(page_client, scored):
    ada = scored.learners["ada"]
    rule = AlertRule.objects.get_or_create(
        code=AlertRule.Code.CRITICAL_RISK, defaults={"name": "Critical drop-off risk"}
    )[0]
    Alert.objects.create(
        rule=rule, user=ada, course=scored.course, priority=90, message="Risk 92, up from 50"
    )
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
        user=ada,
        study_hours=[20, 21],
        preferred_days=[1, 3],
        best_send_hour=19,
        pace="steady",
        lessons_per_week=2.0,
        lessons_completed=8,
        observed_days=28,
    )

    response = page_client.get(learner_url(ada))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Learner" in html
    # The learner-level risk is the highest of her two enrolments, with its course.
    assert 'data-learner-risk="92"' in html and "Critical risk · 92" in html
    assert "the highest of 2 enrolments: Python 101" in html
    assert re.findall(
        r'<tr (?:class="current" aria-current="true" )?data-course="(\w+)"', html
    ) == [
        "py101",
        "js201",
    ]
    assert 'class="current" aria-current="true" data-course="py101"' in html
    # Signals with their catalogue description and unit.
    recency = next(s for s in SIGNALS if s.name == "recency_days")
    assert "recency_days" in html
    assert recency.description.replace("(", "") in html.replace("(", "")
    assert "Recency and gaps" in html
    assert "legacy_signal" in html and "not in the current catalogue" in html
    # Drivers as sentences, raising and lowering apart; the history chart of py101 (both runs).
    raising = html.split("Raising the risk")[1].split("Lowering the risk")[0]
    assert "No activity for 12 days (the course&#x27;s typical gap is 3)" in raising
    assert "+1.4 points" in raising and "Quiz scores" not in raising
    lowering = html.split("Lowering the risk")[1].split("Score history")[0]
    assert "Quiz scores average 90% (typical: 70%)" in lowering and "-0.3 points" in lowering
    assert 'id="history-chart"' in html
    assert "2026-03-01" in html and "2026-03-02" in html
    # Recommendations, only the open alert with its course, the profile.
    assert "Human outreach" in html and "Risk is critical" in html
    assert "Risk 92, up from 50" in html
    assert "Long resolved" not in html
    assert "Monday, Wednesday" in html and "19:00" in html
    assert "Steady · 2.0 lessons/week" in html


def test_learner_page_shows_another_enrolment_on_request(page_client, scored):
    html = page_client.get(learner_url(scored.learners["ada"]), {"course": "js201"}).content
    html = html.decode()

    assert 'class="current" aria-current="true" data-course="js201"' in html
    assert re.search(r'data-stat="risk">20<', html)
    assert "Quiz scores average 90% (typical: 70%)" in html  # js201's only driver lowers it
    assert "Nothing raises this risk" in html
    assert 'data-learner-risk="92"' in html  # the learner's risk stays the highest


def test_never_started_enrolment_on_the_learner_page(page_client, scored):
    fay = UserFactory(email="fay@example.com")
    EnrollmentFactory(user=fay, course=scored.course)
    score = make_score(scored.run, fay, 88, course=scored.course, never_started=True, confidence=12)
    # As a run stores them: a list in the order of the run's signal names.
    scored.run.signal_names = ["recency_days", "enrolment_age_days"]
    scored.run.save(update_fields=["signal_names"])
    score.signals = [365.0, 23.0]
    score.save(update_fields=["signals"])

    html = page_client.get(learner_url(fay)).content.decode()

    assert "Has not started this course." in html
    assert "Enrolled 23 days before 2 Mar" in html
    assert "little is known: no activity yet" in html and re.search(
        r'data-stat="confidence">12%<', html
    )
    assert html.count('class="badge badge-never"') >= 2  # the course row and the heading
    assert "Recalculate all" not in html


def test_learner_page_profile_says_not_enough_data_beside_the_evidence(page_client, scored):
    PersonalizationProfile.objects.create(
        user=scored.learners["cy"],
        pace="unknown",
        lessons_per_week=4.67,
        lessons_completed=2,
        observed_days=3,
        preferred_format="",
        format_uses={"video": 2, "quiz": 1},
    )

    html = page_client.get(learner_url(scored.learners["cy"])).content.decode()

    pace = re.search(r'data-profile="pace">(.*?)</dd>', html, re.S).group(1)
    assert "Not enough data yet" in pace and "2 lessons completed in 3 days observed" in pace
    assert "lessons/week" not in pace  # no rate to contradict the verdict
    fmt = re.search(r'data-profile="format">(.*?)</dd>', html, re.S).group(1)
    assert "Not enough data yet" in fmt and "video 2 · quiz 1" in fmt


# --- selectors: numbers and query counts -----------------------------------------------------


def test_stats_selector_numbers(scored):
    stats = selectors.at_risk_stats(run=scored.run, threshold=60)
    assert (stats.total, stats.critical, stats.high, stats.medium, stats.low) == (6, 1, 2, 1, 2)
    assert stats.at_risk == 3 and stats.at_risk_share == pytest.approx(0.5)
    assert stats.average_risk == pytest.approx((92 + 75 + 61 + 45 + 10 + 20) / 6, abs=0.1)
    assert (stats.learners, stats.at_risk_learners, stats.never_started) == (5, 3, 0)
    # At 15, ada counts once although both her enrolments reach it.
    low = selectors.at_risk_stats(run=scored.run, threshold=15)
    assert (low.at_risk, low.at_risk_learners) == (5, 4)


def test_learner_risk_is_the_highest_enrolment_with_its_course(scored):
    risks = learners.learner_risks(run=scored.run)
    ada = risks[scored.learners["ada"].pk]
    assert (ada.risk, ada.level, ada.course_id, ada.enrolments) == (
        92,
        "critical",
        scored.course.pk,
        2,
    )
    assert risks[scored.learners["eve"].pk].risk == 10
    assert set(risks) == {u.pk for u in scored.learners.values()}
    only = learners.learner_risks(run=scored.run, user_ids=[scored.learners["ben"].pk])
    assert list(only) == [scored.learners["ben"].pk] and only[scored.learners["ben"].pk].risk == 75


def test_histogram_and_trend_selectors(scored):
    make_score(scored.run, UserFactory(), 100, course=scored.course)
    buckets = selectors.risk_histogram(run=scored.run)
    assert [b.count for b in buckets] == [0, 1, 1, 0, 1, 0, 1, 1, 0, 2]  # 100 joins 90-100
    assert (buckets[-1].low, buckets[-1].high) == (90, 100)
    in_js = selectors.risk_histogram(run=scored.run, course="js201")
    assert [b.count for b in in_js] == [0, 0, 1, 0, 1, 0, 0, 1, 0, 0]

    trend = selectors.scoring_run_trend()
    assert [t.run_id for t in trend] == [scored.old_run.pk, scored.run.pk]  # oldest first
    assert trend[0].by_level == {"low": 0, "medium": 1, "high": 1, "critical": 0}
    assert trend[1].total == 7 and trend[1].by_level["critical"] == 2
    py = selectors.scoring_run_trend(course=scored.course)
    assert [t.total for t in py] == [1, 4] and py[1].by_level["critical"] == 2


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
        selectors.risk_histogram(run=run, course="py101")
    with django_assert_num_queries(2):
        selectors.scoring_run_trend(course="py101")
    with django_assert_num_queries(1):  # summaries of finished runs come from the cache
        selectors.scoring_run_trend(course="py101")
    with django_assert_num_queries(5):
        detail = learners.learner_detail(user=scored.learners["ada"])
        assert [s.drop_off_risk for s in detail.history] == [50, 92]
        assert [s.course.external_id for s in detail.scores] == ["py101", "js201"]
    with django_assert_num_queries(1):
        learners.learner_risks(run=run)


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
            make_score(scored.run, UserFactory(), 50 + i, course=scored.course)
    assert counts[0] == counts[1]
    # session + user, then: courses, current run, stats, count, page, histogram, trend runs,
    # trend summaries, run in progress.
    assert counts[0][0] == 11
    # session + user, courses, current run, stats, count, page, histogram, trend runs (the
    # partial swaps the charts too; the dashboard has just cached the trend summaries).
    assert counts[0][1] == 9
    # session + user, learner, latest run, its scores, history, alerts, profile.
    assert counts[0][2] == 8


def test_chart_specs_are_valid_plotly_figures(scored):
    """Charts skip validation at render time, so prove here that Plotly accepts every spec."""
    buckets = selectors.risk_histogram(run=scored.run)
    trend = selectors.scoring_run_trend()
    detail = learners.learner_detail(user=scored.learners["ada"])

    histogram = go.Figure(charts.risk_histogram_figure(buckets))
    assert list(histogram.data[0].y) == [b.count for b in buckets]
    trend_fig = go.Figure(charts.risk_trend_figure(trend))
    assert [t.name for t in trend_fig.data] == ["Low", "Medium", "High", "Critical", "Average risk"]
    assert list(trend_fig.data[-1].y) == [t.average_risk for t in trend]
    history = go.Figure(charts.score_history_figure(detail.history))
    assert list(history.data[0].y) == [50, 92]


def test_score_history_axis_labels_each_day_once(scored):
    """Two scores a day apart: Plotly's own ticks would be every 12 hours (two labels a day)."""
    detail = learners.learner_detail(user=scored.learners["ada"])
    layout = go.Figure(charts.score_history_figure(detail.history)).layout

    assert layout.xaxis.dtick == 86_400_000 and layout.xaxis.tickformat == "%d %b"
    assert layout.xaxis.tick0 == "2026-03-01"

    class Point:
        def __init__(self, day: int) -> None:
            self.as_of = datetime.date(2026, 1, 1) + datetime.timedelta(days=day)
            self.course_id = 1
            self.drop_off_risk = self.weekly_risk = self.monthly_risk = 50

    months = charts.score_history_figure([Point(d) for d in range(0, 90, 3)])
    # A quarter of a year: still whole days between labels, and no more than 14 labels.
    assert months["layout"]["xaxis"]["dtick"] % 86_400_000 == 0
    assert (90 + 18) / (months["layout"]["xaxis"]["dtick"] / 86_400_000) <= 14


def test_history_draws_scores_from_before_courses_apart(scored):
    legacy = make_run(datetime.date(2026, 2, 20))
    make_score(legacy, scored.learners["ada"], 40)  # no course: a learner-level score of old
    detail = learners.learner_detail(user=scored.learners["ada"])

    figure = go.Figure(charts.score_history_figure(detail.history))

    assert [t.name for t in figure.data][-1] == "Before per-course scores"
    assert list(figure.data[-1].y) == [40]
    assert list(figure.data[0].y) == [50, 92]


def test_learner_page_shows_the_signals_a_scoring_run_stored(page_client):
    """A run stores each score's signals as a list in its signal_names order."""
    learner = UserFactory(email="real@example.com")
    course = CourseFactory(title="Real course")
    as_of = datetime.date(2026, 3, 10)
    EnrollmentFactory(
        user=learner,
        course=course,
        enrolled_at=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC),
    )
    make_events(
        learner,
        [("page_view", datetime.datetime(2026, 3, 3, 12, tzinfo=datetime.UTC))],
        course=course,
    )
    run = scoring_run_start(as_of=as_of, execute_now=True)
    score = run.scores.get()
    assert isinstance(score.signals, list) and "recency_days" in run.signal_names
    assert score.signal_values()["recency_days"] == 7

    html = page_client.get(learner_url(learner)).content.decode()

    row = re.search(r"<code>recency_days</code></td><td>[^<]*</td><td class=\"num\">([^<]*)<", html)
    assert row and row.group(1) == "7"
