"""The analytics overview: active learners, growth, enrollments and completions over a range."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required, can_see_platform
from analytics.selectors.overview import overview as overview_data
from analytics.selectors.revenue import revenue_totals
from analytics.views.layout import csv_response, page_context, tabs_for, wants_csv
from engagement.charts import figure_html

CSV_HEADER = [
    "date",
    "dau",
    "wau",
    "mau",
    "stickiness",
    "new_learners",
    "events",
    "enrollments",
    "completions",
]


@require_GET
@analytics_required()
def overview(request: HttpRequest) -> HttpResponse:
    """Staff see the platform (or one course); an instructor starts on their courses."""
    if not can_see_platform(request.user):
        tabs = tabs_for(request, "")
        if not tabs:
            raise PermissionDenied("Analytics are for staff and instructors.")
        return redirect(tabs[0]["url"])
    context = page_context(request, "analytics:overview")
    selection = context["selection"]
    data = overview_data(selection.start, selection.end, course=selection.course)
    if wants_csv(request):
        return csv_response(
            f"analytics-overview-{selection.start}-{selection.end}.csv",
            CSV_HEADER,
            (
                [
                    r.day.isoformat(),
                    r.dau,
                    r.wau,
                    r.mau,
                    None if r.stickiness is None else round(r.stickiness, 4),
                    r.new_learners,
                    r.events,
                    r.enrollments,
                    r.completions,
                ]
                for r in data.rows
            ),
        )
    days = [r.day for r in data.rows]
    context.update(
        data=data,
        revenue=revenue_totals(selection.start, selection.end, course=selection.course),
        active_chart=figure_html(
            charts.active_learners_figure(data.rows), div_id="active-learners"
        ),
        growth_chart=figure_html(
            charts.bars_figure(
                days,
                [
                    ("New learners", [r.new_learners for r in data.rows]),
                    ("Enrollments", [r.enrollments for r in data.rows]),
                    ("Completions", [r.completions for r in data.rows]),
                ],
                y_title="Per day",
            ),
            div_id="growth",
        ),
    )
    return render(request, "analytics/overview.html", context)
