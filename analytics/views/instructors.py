"""The instructors table (staff only): one row per instructor from the instructor-scope rows."""

from __future__ import annotations

import dataclasses

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from accounts.models import User
from analytics.access import analytics_required
from analytics.selectors.courses import INSTRUCTOR_SORTS, instructor_table
from analytics.views.courses import chosen_sort, revenue_text, top_chart
from analytics.views.layout import csv_response, page_context, rounded, wants_csv

CSV_HEADER = [
    "instructor",
    "name",
    "courses",
    "active_learners",
    "enrollments",
    "completions",
    "completion_rate",
    "average_rating",
    "reviews",
    "revenue",
    "converted_revenue",
]


def instructor_name(user: User) -> str:
    return user.get_full_name() or user.email or user.external_id


@require_GET
@analytics_required(platform=True)
def instructors(request: HttpRequest) -> HttpResponse:
    """Every instructor of a course over the range, sorted by ?sort= (largest first); an
    instructor's active learners are distinct over their courses."""
    context = page_context(request, "analytics:instructors")
    selection = dataclasses.replace(context["selection"], course=None)
    sort = chosen_sort(request, INSTRUCTOR_SORTS)
    rows = instructor_table(selection.start, selection.end, sort=sort)
    if wants_csv(request):
        return csv_response(
            f"analytics-instructors-{selection.start}-{selection.end}.csv",
            CSV_HEADER,
            (
                [
                    r.instructor.external_id,
                    instructor_name(r.instructor),
                    r.courses,
                    r.active_learners,
                    r.enrollments,
                    r.completions,
                    rounded(r.completion_rate, 4),
                    rounded(r.average_rating),
                    r.rating_count,
                    revenue_text(r),
                    r.converted_revenue,
                ]
                for r in rows
            ),
        )
    context.update(
        selection=selection,
        rows=[(r, instructor_name(r.instructor)) for r in rows],
        sort=sort,
        sorts=INSTRUCTOR_SORTS,
        sort_label=INSTRUCTOR_SORTS[sort],
        base_query=urlencode(selection.query()),
        csv_query=selection.query(format="csv", sort=sort),
        has_activity=any(r.enrollments or r.active_learners or r.completions for r in rows),
        top_chart=top_chart(
            rows,
            sort,
            INSTRUCTOR_SORTS,
            lambda r: instructor_name(r.instructor),
            "top-instructors",
        ),
    )
    return render(request, "analytics/instructors.html", context)
