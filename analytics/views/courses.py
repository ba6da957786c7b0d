"""The courses table (top courses by any column) and a page per course."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required, visible_courses
from analytics.selectors.courses import (
    SORTS,
    Figures,
    course_page,
    course_table,
    main_currency,
)
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from engagement.charts import figure_html
from learning.models import Course

TOP = 10
CSV_HEADER = [
    "course",
    "title",
    "enrollments",
    "starts",
    "completions",
    "completion_rate",
    "median_days_to_complete",
    "active_learners",
    "average_rating",
    "reviews",
    "messages_sent",
    "revenue",
    "converted_revenue",
    "week1_retention",
]
COURSE_CSV_HEADER = [
    "date",
    "dau",
    "wau",
    "mau",
    "new_learners",
    "enrollments",
    "starts",
    "completions",
    "reviews",
    "average_rating",
    "messages_sent",
]


def chosen_sort(request: HttpRequest, sorts: dict[str, str]) -> str:
    """?sort= when it names a column of `sorts`, else the first."""
    sort = request.GET.get("sort", "")
    return sort if sort in sorts else next(iter(sorts))


def revenue_text(row: Figures) -> str:
    """'120.00 EUR; 15.00 USD': a CSV cell of every currency."""
    return "; ".join(f"{t.amount.quantize(Decimal('0.01'))} {t.currency}" for t in row.revenue)


def chart_value(row: Figures, sort: str, currency: str | None) -> float:
    if sort == "revenue":
        if row.converted_revenue is not None:
            return float(row.converted_revenue)
        return float(row.revenue_in(currency or ""))
    return float(getattr(row, sort) or 0)


def top_chart(rows: list, sort: str, sorts: dict[str, str], label: object, div_id: str) -> str:
    """A bar of the first TOP rows by `sort` ('' when no row has anything)."""
    currency = main_currency(rows)
    top = [row for row in rows[:TOP] if chart_value(row, sort, currency)]
    if not top:
        return ""
    title = sorts[sort]
    if sort == "revenue" and top[0].converted_revenue is None and currency:
        title = f"Revenue ({currency})"
    return figure_html(
        charts.ranking_figure(
            [str(label(row)) for row in top],
            [chart_value(row, sort, currency) for row in top],
            x_title=title,
        ),
        div_id=div_id,
    )


@require_GET
@analytics_required()
def courses(request: HttpRequest) -> HttpResponse:
    """Every course the user may see (staff: all, an instructor: their own) over the range,
    sorted by ?sort= (largest first); the top 10 by that column as a chart."""
    context = page_context(request, "analytics:courses")
    selection = context["selection"]
    sort = chosen_sort(request, SORTS)
    rows = course_table(selection.start, selection.end, visible_courses(request.user), sort=sort)
    if wants_csv(request):
        return csv_response(
            f"analytics-courses-{selection.start}-{selection.end}.csv",
            CSV_HEADER,
            (
                [
                    r.course.external_id,
                    r.course.title,
                    r.enrollments,
                    r.starts,
                    r.completions,
                    rounded(r.completion_rate, 4),
                    rounded(r.median_days_to_complete),
                    r.active_learners,
                    rounded(r.average_rating),
                    r.rating_count,
                    r.messages_sent,
                    revenue_text(r),
                    r.converted_revenue,
                    rounded(r.week1_retention, 4),
                ]
                for r in rows
            ),
        )
    # The table is every visible course: no course is "selected" (an instructor's form
    # picks their first).
    selection = dataclasses.replace(selection, course=None)
    query = selection.query()
    context.update(
        selection=selection,
        rows=rows,
        sort=sort,
        sorts=SORTS,
        sort_label=SORTS[sort],
        base_query=urlencode(query),
        csv_query=selection.query(format="csv", sort=sort),
        has_activity=any(r.enrollments or r.active_learners or r.completions for r in rows),
        top_chart=top_chart(rows, sort, SORTS, lambda r: r.course.title, "top-courses"),
    )
    return render(request, "analytics/courses.html", context)


@require_GET
@analytics_required()
def course(request: HttpRequest, external_id: str) -> HttpResponse:
    """One course over the range: 404 for a course Stride does not know, 403 for a course the
    user may not see (another instructor's)."""
    course = get_object_or_404(Course, external_id=external_id)
    if not visible_courses(request.user).filter(pk=course.pk).exists():
        raise PermissionDenied("This course is another instructor's.")
    context = page_context(request, "analytics:courses")
    selection = dataclasses.replace(context["selection"], course=course)
    data = course_page(course, selection.start, selection.end)
    if wants_csv(request):
        return csv_response(
            f"analytics-course-{course.external_id}-{selection.start}-{selection.end}.csv",
            COURSE_CSV_HEADER,
            (
                [
                    r.day.isoformat(),
                    r.dau,
                    r.wau,
                    r.mau,
                    r.new_learners,
                    r.enrollments,
                    r.starts,
                    r.completions,
                    r.rating_count,
                    rounded(r.average_rating),
                    r.messages_sent,
                ]
                for r in data.rows
            ),
        )
    days = [r.day for r in data.rows]
    query = {k: v for k, v in selection.query().items() if k != "course"}
    context.update(
        selection=selection,
        data=data,
        base_query=urlencode(query),
        csv_query=query | {"format": "csv"},
        funnel_query=urlencode({**query, "course": course.external_id}),
        funnels_url=reverse("analytics:funnels"),
        active_chart=figure_html(
            charts.active_learners_figure(data.rows), div_id="active-learners"
        ),
        growth_chart=figure_html(
            charts.bars_figure(
                days,
                [
                    ("Enrollments", [r.enrollments for r in data.rows]),
                    ("Completions", [r.completions for r in data.rows]),
                ],
                y_title="Per day",
            ),
            div_id="enrollments",
        ),
    )
    return render(request, "analytics/course.html", context)
