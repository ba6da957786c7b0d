"""The figures of the staff reports, read from the daily aggregates and a few live counts.

The daily executive summary is about one learner-local day D ("yesterday" when it is sent):
each figure on D, on the day before, and its average over the 7 days before D (D-7 .. D-1,
so the average is a baseline D is compared with, not one it is part of). The weekly growth
report is about one Monday-to-Sunday week against the week before. Every figure carries the
absolute link (on STRIDE_SITE_URL) of the dashboard page it comes from.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from analytics.models import Anomaly, Breakdown, CohortKind, ReportKind, ReportSend, RetentionCell
from analytics.selectors.aggregates import daily_series, daily_series_by_scope
from analytics.selectors.report_records import (
    AnomalyLine,
    CourseMove,
    DailySummary,
    Figure,
    Report,
    WeeklyGrowth,
)
from analytics.services.anomaly_alerts import METRIC_LABELS, trends_url
from analytics.services.retention import week_of
from engagement.models import Alert
from interventions.services.tracking import site_url
from learning.models import Course, LessonProgress

DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)
BASELINE_DAYS = 7  # the daily summary's average: the 7 days before the reported day
TOP_COURSES = 3  # growing and declining courses named in the weekly report


def report_period(kind: str, *, now: datetime.datetime | None = None) -> datetime.date:
    """The period a report sent at `now` (default now) covers: yesterday (UTC) for the daily
    summary, the Monday of last week (the last complete Monday-to-Sunday week) for the
    weekly growth report."""
    today = (now or timezone.now()).astimezone(datetime.UTC).date()
    if kind == ReportKind.WEEKLY_GROWTH:
        return week_of(today) - WEEK
    return today - DAY


def page_url(name: str, *, args: tuple = (), **query: str) -> str:
    """The absolute URL of dashboard page `name` with `query`."""
    path = reverse(name, args=args)
    return site_url(f"{path}?{urlencode(query)}" if query else path)


def _range(start: datetime.date, end: datetime.date) -> dict[str, str]:
    return {"range": "custom", "from": start.isoformat(), "to": end.isoformat()}


def daily_summary(day: datetime.date) -> DailySummary:
    """The daily executive summary of `day`, in four queries: the platform's aggregates of
    day-7 .. day, the lessons completed, the alerts, and the anomalies of those days.

    Lessons completed count lesson progress completed on the UTC day (the aggregates have no
    lesson count); open alerts are a count now (alerts keep no history of being open), with
    those raised on `day` as its note."""
    start = day - BASELINE_DAYS * DAY
    rows = daily_series(start, day)
    current, before, baseline = rows[-1], rows[-2], rows[:-1]

    def average(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    week_range = _range(day - 6 * DAY, day)
    overview = page_url("analytics:overview", **week_range)

    def aggregate(key: str, label: str, url: str) -> Figure:
        return Figure(
            key=key,
            label=label,
            value=getattr(current, key),
            previous=getattr(before, key),
            average=average([getattr(r, key) for r in baseline]),
            url=url,
        )

    lessons = _lessons_completed(day, start)
    scored = [r for r in baseline if r.scored_learners]
    alerts = Alert.objects.aggregate(
        open=Count("id", filter=Q(status=Alert.Status.OPEN)),
        raised=Count("id", filter=Q(created_at__range=_utc_day(day))),
    )
    anomalies = list(
        Anomaly.objects.filter(day__gte=start, day__lte=day)
        .select_related("course")
        .order_by("day", F("course_id").asc(nulls_first=True), "metric")
    )
    per_day = {d: 0 for d in (start + k * DAY for k in range(BASELINE_DAYS + 1))}
    for anomaly in anomalies:
        per_day[anomaly.day] += 1
    interventions = site_url(reverse("interventions:dashboard"))
    figures = [
        Figure(
            key="dau",
            label="Active learners",
            value=current.dau,
            previous=before.dau,
            average=average([r.dau for r in baseline]),
            url=overview,
        ),
        aggregate("enrollments", "New enrollments", overview),
        Figure(
            key="lessons_completed",
            label="Lessons completed",
            value=lessons["day"],
            previous=lessons["before"],
            average=lessons["baseline"] / BASELINE_DAYS,
            url=page_url("analytics:courses", **week_range),
        ),
        aggregate("completions", "Course completions", overview),
        Figure(
            key="at_risk_learners",
            label="Learners at high or critical risk",
            value=current.at_risk_learners if current.scored_learners else None,
            previous=before.at_risk_learners if before.scored_learners else None,
            average=average([r.at_risk_learners for r in scored]),
            url=site_url(reverse("engagement:at_risk_list")),
            note=(
                f"of {current.scored_learners} scored"
                if current.scored_learners
                else "no completed scoring run that day"
            ),
        ),
        Figure(
            key="open_alerts",
            label="Open alerts",
            value=alerts["open"],
            previous=None,
            url=site_url(reverse("engagement:dashboard")),
            note=f"now; {alerts['raised']} raised that day",
        ),
        aggregate("messages_sent", "Interventions sent", interventions),
        aggregate("messages_opened", "Interventions opened", interventions),
        aggregate("messages_clicked", "Interventions clicked", interventions),
        aggregate("messages_converted", "Interventions converted", interventions),
        Figure(
            key="anomalies",
            label="Anomalies flagged",
            value=per_day[day],
            previous=per_day[day - DAY],
            average=sum(per_day[d] for d in per_day if d != day) / BASELINE_DAYS,
            url=page_url("analytics:trends", **_range(day - 27 * DAY, day)),
        ),
    ]
    lines = [
        AnomalyLine(
            day=a.day,
            scope=a.course.title if a.course is not None else "the platform",
            metric=METRIC_LABELS.get(a.metric, a.metric),
            value=a.value,
            baseline=a.baseline,
            url=trends_url(a),
        )
        for a in anomalies
        if a.day == day
    ]
    return DailySummary(day=day, figures=figures, anomalies=lines)


def _utc_day(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
    return start, start + DAY - datetime.timedelta(microseconds=1)


def _lessons_completed(day: datetime.date, start: datetime.date) -> dict[str, int]:
    """Lessons completed on UTC day `day`, the day before, and over `start` .. day-1 (one
    query)."""
    lo, _ = _utc_day(start)
    day_lo, hi = _utc_day(day)
    before_lo, _ = _utc_day(day - DAY)
    return LessonProgress.objects.filter(completed_at__gte=lo, completed_at__lte=hi).aggregate(
        day=Count("id", filter=Q(completed_at__gte=day_lo)),
        before=Count("id", filter=Q(completed_at__gte=before_lo, completed_at__lt=day_lo)),
        baseline=Count("id", filter=Q(completed_at__lt=day_lo)),
    )


def weekly_growth(week_start: datetime.date) -> WeeklyGrowth:
    """The weekly growth report of the week starting on Monday `week_start` against the week
    before, in three queries: the aggregates of both weeks (platform and courses), the
    courses' names, and the signup cohorts' week-1 retention.

    Active learners are the WAU of each week's last day (distinct learners active in the week)
    and stickiness WAU / MAU on that day; new learners, enrollments and completions are the
    week's sums; retention is the share of the cohort that signed up the week before that
    was active the next week (the cohort of the week before last for the week before)."""
    previous_start = week_start - WEEK
    end = week_start + 6 * DAY
    series = daily_series_by_scope(previous_start, end)
    platform = series.pop(None)
    before, current = platform[:7], platform[7:]
    last, last_before = current[-1], before[-1]
    span = _range(previous_start, end)
    overview = page_url("analytics:overview", **span)

    def total(rows: list, key: str) -> int:
        return sum(getattr(r, key) for r in rows)

    retention = _week1_retention([previous_start, previous_start - WEEK])
    figures = [
        Figure("wau", "Active learners (in the week)", last.wau, last_before.wau, overview),
        Figure(
            "new_learners",
            "New learners",
            total(current, "new_learners"),
            total(before, "new_learners"),
            overview,
        ),
        Figure(
            "enrollments",
            "Enrollments",
            total(current, "enrollments"),
            total(before, "enrollments"),
            overview,
        ),
        Figure(
            "completions",
            "Course completions",
            total(current, "completions"),
            total(before, "completions"),
            overview,
        ),
        Figure(
            "retention",
            "Week-1 retention of new signups",
            retention[previous_start],
            retention[previous_start - WEEK],
            page_url("analytics:cohorts", **_range(previous_start - 2 * WEEK, end), kind="signup"),
            share=True,
            note=f"signed up the week of {previous_start:%d %b}, active the week after",
        ),
        Figure("mau", "Monthly active learners", last.mau, last_before.mau, overview),
        Figure(
            "stickiness",
            "Stickiness (WAU / MAU)",
            last.wau / last.mau if last.mau else None,
            last_before.wau / last_before.mau if last_before.mau else None,
            overview,
            share=True,
        ),
    ]
    courses = Course.objects.in_bulk(list(series)) if series else {}
    moves = [
        CourseMove(
            title=courses[pk].title,
            external_id=courses[pk].external_id,
            active=rows[-1].wau,
            previous=rows[6].wau,
            url=page_url("analytics:course", args=(courses[pk].external_id,), **span),
        )
        for pk, rows in series.items()
        if pk in courses
    ]
    growing = sorted(
        (m for m in moves if m.change > 0), key=lambda m: (-m.change, m.title, m.external_id)
    )
    declining = sorted(
        (m for m in moves if m.change < 0), key=lambda m: (m.change, m.title, m.external_id)
    )
    return WeeklyGrowth(
        week_start=week_start,
        figures=figures,
        growing=growing[:TOP_COURSES],
        declining=declining[:TOP_COURSES],
    )


def _week1_retention(weeks: list[datetime.date]) -> dict[datetime.date, float | None]:
    """The platform's signup cohorts of `weeks`: the share active in their second week."""
    cells = RetentionCell.objects.filter(
        cohort_kind=CohortKind.SIGNUP,
        course__isnull=True,
        breakdown=Breakdown.ALL,
        breakdown_value="",
        cohort_week__in=weeks,
        week_offset=1,
    ).values_list("cohort_week", "retained", "cohort_size")
    out: dict[datetime.date, float | None] = dict.fromkeys(weeks)
    for week, retained, size in cells:
        out[week] = retained / size if size else None
    return out


def report_for(kind: str, period: datetime.date) -> Report:
    """The report of `kind` for `period` (a day, or a week's Monday)."""
    if kind == ReportKind.WEEKLY_GROWTH:
        return weekly_growth(period)
    return daily_summary(period)


def report_sends_recent(*, limit: int = 10) -> list[ReportSend]:
    """The latest sends of every report, newest first, with their recipient (one query)."""
    return list(ReportSend.objects.select_related("user").order_by("-created_at", "-id")[:limit])
