"""A course's funnel, from enrollment to completion, for the enrollments made in the range."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required
from analytics.selectors.funnels import funnel_steps
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from engagement.charts import figure_html

CSV_HEADER = ["step", "learners", "from_previous", "from_enrolled", "median_hours"]


@require_GET
@analytics_required()
def funnels(request: HttpRequest) -> HttpResponse:
    """Staff choose any course, an instructor one of theirs; the cohort is the course's
    enrollments made from the range's first to its last day."""
    context = page_context(request, "analytics:funnels", course_required=True)
    selection = context["selection"]
    steps = (
        funnel_steps(selection.course, selection.start, selection.end)
        if selection.course is not None
        else []
    )
    if wants_csv(request):
        return csv_response(
            f"analytics-funnel-{selection.start}-{selection.end}.csv",
            CSV_HEADER,
            (
                [
                    s.label,
                    s.count,
                    rounded(s.from_previous, 4),
                    rounded(s.from_top, 4),
                    rounded(s.median_seconds / 3600 if s.median_seconds is not None else None),
                ]
                for s in steps
            ),
        )
    has_cohort = bool(steps) and steps[0].count > 0
    context.update(
        steps=steps,
        has_cohort=has_cohort,
        funnel_chart=figure_html(
            charts.funnel_figure([s.label for s in steps], [s.count for s in steps]),
            div_id="funnel",
        )
        if has_cohort
        else "",
    )
    return render(request, "analytics/funnels.html", context)
