"""The staff reports' figures against a direct computation on generated aggregates, and the
emails they render to: every figure, its change and the absolute link of its page."""

from __future__ import annotations

import datetime
import random
import re
from html import unescape

import pytest

from analytics.models import (
    Anomaly,
    Breakdown,
    CohortKind,
    DailyAggregate,
    ReportKind,
    RetentionCell,
)
from analytics.selectors.reports import daily_summary, report_period, weekly_growth
from analytics.services.reports import report_render
from engagement.models import Alert, AlertRule
from tests.accounts.factories import AdminFactory, UserFactory
from tests.engagement.factories import AlertRuleFactory
from tests.learning.factories import CourseFactory, LessonFactory, LessonProgressFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
REPORTED = datetime.date(2026, 12, 1)  # a Tuesday: the daily summary sent on 2 Dec
WEEK = datetime.date(2026, 11, 23)  # a Monday: the weekly report sent on 30 Nov
SITE = "https://stride.example.com"
AGGREGATE_KEYS = [
    "dau",
    "enrollments",
    "completions",
    "messages_sent",
    "messages_opened",
    "messages_clicked",
    "messages_converted",
]


@pytest.fixture(autouse=True)
def site(settings):
    settings.STRIDE_SITE_URL = SITE


def plant_days(start: datetime.date, days: int, *, seed: int = 5) -> dict[datetime.date, dict]:
    """Platform aggregates with random figures on `days` days from `start`, as the nightly
    refresh stores them; return each day's figures."""
    rng = random.Random(seed)
    planted = {}
    for k in range(days):
        day = start + k * DAY
        figures = {
            "dau": rng.randint(20, 90),
            "wau": rng.randint(100, 200),
            "mau": rng.randint(250, 400),
            "new_learners": rng.randint(0, 15),
            "enrollments": rng.randint(0, 30),
            "completions": rng.randint(0, 8),
            "messages_sent": rng.randint(10, 60),
            "messages_opened": rng.randint(5, 10),
            "messages_clicked": rng.randint(0, 5),
            "messages_converted": rng.randint(0, 3),
            "scored_learners": 0 if k == 2 else 300,  # one day without a scoring run
            "at_risk_learners": 0 if k == 2 else rng.randint(10, 40),
        }
        DailyAggregate.objects.create(day=day, **figures)
        planted[day] = figures
    return planted


def test_the_daily_summary_equals_the_aggregates_of_the_day_the_day_before_and_the_week():
    planted = plant_days(REPORTED - 9 * DAY, 10)
    week = [planted[REPORTED - k * DAY] for k in range(1, 8)]  # the 7 days before

    report = daily_summary(REPORTED)

    for key in AGGREGATE_KEYS:
        figure = report.figure(key)
        assert figure.value == planted[REPORTED][key], key
        assert figure.previous == planted[REPORTED - DAY][key], key
        assert figure.average == pytest.approx(sum(d[key] for d in week) / 7), key
        assert figure.change == planted[REPORTED][key] - planted[REPORTED - DAY][key]
    at_risk = report.figure("at_risk_learners")
    assert at_risk.value == planted[REPORTED]["at_risk_learners"]
    scored_days = [d for d in week if d["scored_learners"]]
    assert len(scored_days) == 6  # the day without a scoring run is left out of the average
    assert at_risk.average == pytest.approx(
        sum(d["at_risk_learners"] for d in scored_days) / len(scored_days)
    )
    assert at_risk.note == "of 300 scored"


def test_the_daily_summary_counts_lessons_completed_open_alerts_and_anomalies(
    django_assert_num_queries,
):
    plant_days(REPORTED - 9 * DAY, 10)
    course = CourseFactory(title="Statistics")
    lessons = [LessonFactory(course=course) for _ in range(4)]
    learners = [UserFactory() for _ in range(3)]
    at = datetime.datetime.combine(REPORTED, datetime.time(10), datetime.UTC)
    # 3 on the day, 2 the day before, 1 four days before, 1 on the day after (not counted)
    for user, lesson, when in [
        (learners[0], lessons[0], at),
        (learners[1], lessons[0], at + datetime.timedelta(hours=13, minutes=59)),
        (learners[2], lessons[1], at - datetime.timedelta(hours=10)),
        (learners[0], lessons[1], at - DAY),
        (learners[1], lessons[1], at - DAY),
        (learners[2], lessons[2], at - 4 * DAY),
        (learners[0], lessons[3], at + DAY),
    ]:
        LessonProgressFactory(user=user, lesson=lesson, at=when, completed=True)
    rule = AlertRuleFactory(code=AlertRule.Code.CRITICAL_RISK)
    for user, status, created in [
        (learners[0], Alert.Status.OPEN, at),
        (learners[1], Alert.Status.OPEN, at - 3 * DAY),
        (learners[2], Alert.Status.RESOLVED, at),
    ]:
        Alert.objects.create(
            rule=rule, user=user, priority=90, message="Risk", status=status, created_at=created
        )
    Anomaly.objects.create(day=REPORTED, metric="dau", value=140, baseline=50, score=6.2)
    Anomaly.objects.create(
        day=REPORTED, course=course, metric="enrollments", value=0, baseline=9, score=-4.5
    )
    Anomaly.objects.create(day=REPORTED - 3 * DAY, metric="events", value=9, baseline=90, score=-5)

    with django_assert_num_queries(4):
        report = daily_summary(REPORTED)

    lessons_done = report.figure("lessons_completed")
    assert (lessons_done.value, lessons_done.previous) == (3, 2)
    assert lessons_done.average == pytest.approx(3 / 7)  # 2 the day before + 1 four days before
    alerts = report.figure("open_alerts")
    assert alerts.value == 2
    assert alerts.note == "now; 2 raised that day"
    anomalies = report.figure("anomalies")
    assert (anomalies.value, anomalies.previous) == (2, 0)
    assert anomalies.average == pytest.approx(1 / 7)
    assert [(a.scope, a.metric) for a in report.anomalies] == [
        ("the platform", "Daily active learners"),
        ("Statistics", "Enrollments"),
    ]


def plant_weeks() -> dict:
    """Two weeks of platform rows (WEEK and the week before) and four courses' rows."""
    before, current = WEEK - 7 * DAY, WEEK
    rows = {}
    for k in range(14):
        day = before + k * DAY
        rows[day] = DailyAggregate.objects.create(
            day=day,
            dau=30 + k,
            wau=100 + 3 * k,
            mau=300 + k,
            new_learners=k % 4,
            enrollments=2 * k,
            completions=k % 3,
        )
    courses = {
        "rising": CourseFactory(external_id="rising", title="Rising"),
        "falling": CourseFactory(external_id="falling", title="Falling"),
        "steady": CourseFactory(external_id="steady", title="Steady"),
        "nudging": CourseFactory(external_id="nudging", title="Nudging"),
    }
    for name, (then, now) in {
        "rising": (20, 35),
        "falling": (40, 31),
        "steady": (12, 12),
        "nudging": (5, 7),
    }.items():
        DailyAggregate.objects.create(day=current - DAY, course=courses[name], wau=then, mau=50)
        DailyAggregate.objects.create(day=current + 6 * DAY, course=courses[name], wau=now, mau=50)
    for cohort, size, retained in [(before, 80, 30), (before - 7 * DAY, 50, 25)]:
        RetentionCell.objects.create(
            cohort_kind=CohortKind.SIGNUP,
            breakdown=Breakdown.ALL,
            cohort_week=cohort,
            week_offset=1,
            cohort_size=size,
            retained=retained,
        )
    return rows


def test_the_weekly_growth_report_equals_the_two_weeks_aggregates(django_assert_num_queries):
    rows = plant_weeks()
    this = [rows[WEEK + k * DAY] for k in range(7)]
    last = [rows[WEEK - 7 * DAY + k * DAY] for k in range(7)]

    with django_assert_num_queries(3):
        report = weekly_growth(WEEK)

    assert report.week_end == WEEK + 6 * DAY
    wau = report.figure("wau")
    assert (wau.value, wau.previous) == (this[-1].wau, last[-1].wau)
    for key in ["new_learners", "enrollments", "completions"]:
        figure = report.figure(key)
        assert figure.value == sum(getattr(r, key) for r in this), key
        assert figure.previous == sum(getattr(r, key) for r in last), key
    assert report.figure("mau").value == this[-1].mau
    stickiness = report.figure("stickiness")
    assert stickiness.value == pytest.approx(this[-1].wau / this[-1].mau)
    assert stickiness.previous == pytest.approx(last[-1].wau / last[-1].mau)
    retention = report.figure("retention")
    assert (retention.value, retention.previous) == (30 / 80, 25 / 50)
    assert retention.change_text == "-12.5 points"
    assert [(m.title, m.change) for m in report.growing] == [("Rising", 15), ("Nudging", 2)]
    assert [(m.title, m.change) for m in report.declining] == [("Falling", -9)]


def test_the_report_periods_are_yesterday_and_last_monday_to_sunday():
    wednesday = datetime.datetime(2026, 12, 2, 7, tzinfo=datetime.UTC)
    monday = datetime.datetime(2026, 11, 30, 7, 30, tzinfo=datetime.UTC)
    assert report_period(ReportKind.DAILY_SUMMARY, now=wednesday) == REPORTED
    assert report_period(ReportKind.WEEKLY_GROWTH, now=monday) == WEEK
    # Any day of the week after: still the last complete week.
    assert report_period(ReportKind.WEEKLY_GROWTH, now=wednesday) == WEEK
    assert report_period(ReportKind.WEEKLY_GROWTH, now=monday - DAY) == WEEK - 7 * DAY


def _links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', html)]


def test_the_daily_email_shows_every_figure_with_its_change_and_its_pages_link():
    planted = plant_days(REPORTED - 9 * DAY, 10)
    report = daily_summary(REPORTED)
    staff = AdminFactory(first_name="Ada")

    email = report_render(report, user=staff)

    assert email.subject == "Stride daily summary: Tue 01 Dec 2026"
    dau, before = planted[REPORTED]["dau"], planted[REPORTED - DAY]["dau"]
    change = f"{dau - before:+d} ({100 * (dau / before - 1):+.1f} %)"
    assert f"Active learners: {dau}\n  {change} vs {before} the day before" in email.text
    assert "Hello Ada," in email.text and "Hello Ada," in email.html
    for figure in report.figures:
        assert figure.label in email.html
        assert f">{figure.value_text}<" in email.html
        assert figure.url in email.text
        assert figure.url in _links(email.html)
        if figure.change_text:
            assert figure.change_text in email.html
    links = _links(email.html)
    overview = f"{SITE}/dashboard/analytics/?range=custom&from=2026-11-25&to=2026-12-01"
    assert overview in links
    assert f"{SITE}/dashboard/engagement/at-risk/" in links
    assert f"{SITE}/dashboard/interventions/" in links
    assert f"{SITE}/dashboard/analytics/reports/" in links  # choose your reports
    assert all(link.startswith(SITE) for link in links)
    # Nothing the mail client would fetch: no images, stylesheets or scripts.
    assert not re.search(r"<(img|link|script)\b|src=|url\(", email.html)


def test_the_weekly_email_names_the_growing_and_declining_courses_with_their_links():
    plant_weeks()
    email = report_render(weekly_growth(WEEK))

    assert email.subject == "Stride weekly growth: 23 Nov to 29 Nov 2026"
    links = _links(email.html)
    rising = (
        f"{SITE}/dashboard/analytics/courses/rising/?range=custom&from=2026-11-16&to=2026-11-29"
    )
    assert rising in links
    assert f"- Rising: 35 active, +15 (+75.0 %)\n  {rising}" in email.text
    assert "- Falling: 31 active, -9 (-22.5 %)" in email.text
    assert "Steady" not in email.text  # unchanged: neither growing nor declining
    assert "Week-1 retention of new signups: 37.5 %" in email.text
    assert f"{SITE}/dashboard/analytics/cohorts/?range=custom" in email.text
