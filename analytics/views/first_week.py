"""The first-week page: weak first weeks against the rest, their outcomes, the signals that
separate them, the recommendation, and saving the weak cohort as a campaigns segment."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics import charts
from analytics.access import analytics_required, can_see_platform, visible_courses
from analytics.selectors.first_week import first_week_report
from analytics.services.first_week import first_week_segment_save
from analytics.views.layout import page_context
from core.errors import DomainValidationError
from engagement.charts import figure_html


@require_GET
@analytics_required()
def first_week(request: HttpRequest) -> HttpResponse:
    """Staff see the platform's analysis or one course's; an instructor one of their own
    courses (`?course=`)."""
    context = page_context(request, "analytics:first_week", csv_query=None)
    course = context["selection"].course
    report = first_week_report(course=course)
    context.update(
        report=report,
        outcomes_chart=figure_html(
            charts.first_week_outcomes_figure(report.outcomes), div_id="first-week-outcomes"
        )
        if report.has_groups
        else "",
    )
    return render(request, "analytics/first_week.html", context)


@require_POST
@analytics_required()
def first_week_segment(request: HttpRequest) -> HttpResponse:
    """Save the weak first-week cohort of POST `course` (empty: every course, staff only) as
    a campaigns segment. Staff go to the segment's page, instructors back to the page."""
    course = None
    if request.POST.get("course"):
        course = visible_courses(request.user).filter(external_id=request.POST["course"]).first()
        if course is None:
            raise PermissionDenied("That course's learners are not yours to save.")
    elif not can_see_platform(request.user):
        raise PermissionDenied("Choose one of your courses.")
    try:
        segment = first_week_segment_save(course=course, actor=request.user)
    except DomainValidationError as error:
        return HttpResponse(error.messages_text(), status=400, content_type="text/plain")
    messages.success(request, f"Saved the weak first-week cohort as the segment “{segment.name}”.")
    if request.user.is_staff:
        return redirect("campaigns:segment_detail", segment.pk)
    url = reverse("analytics:first_week")
    return redirect(f"{url}?course={course.external_id}" if course is not None else url)
