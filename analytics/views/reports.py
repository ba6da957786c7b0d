"""The staff reports page: choose which reports you get, preview them, see the last sends."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from analytics.access import analytics_required
from analytics.models import ReportKind
from analytics.selectors.reports import report_for, report_period, report_sends_recent
from analytics.services.reports import report_subscription_set, report_subscriptions_of
from analytics.views.layout import page_context
from core.errors import DomainValidationError

SCHEDULES = {
    ReportKind.DAILY_SUMMARY: "Every day at 07:00 UTC, about the day before.",
    ReportKind.WEEKLY_GROWTH: "Mondays at 07:30 UTC, about the week before (Monday to Sunday).",
}


@require_GET
@analytics_required(platform=True)
def reports(request: HttpRequest) -> HttpResponse:
    """Staff only: their subscriptions with a toggle each, each report's preview from
    today's figures (what would be sent now), and the latest sends."""
    chosen = report_subscriptions_of(request.user)
    context = page_context(
        request,
        "analytics:reports",
        csv_query=None,
        reports=[
            {
                "kind": kind,
                "label": ReportKind(kind).label,
                "schedule": SCHEDULES[kind],
                "subscribed": chosen[kind],
                "report": report_for(kind, report_period(kind)),
                "content_template": f"analytics/email/_{kind}.html",
            }
            for kind in ReportKind.values
        ],
        sends=report_sends_recent(),
    )
    return render(request, "analytics/reports.html", context)


@require_POST
@analytics_required(platform=True)
def report_subscription(request: HttpRequest) -> HttpResponse:
    """Turn one of your own reports on or off (POST kind, active=1|0)."""
    kind = request.POST.get("kind", "")
    active = request.POST.get("active") == "1"
    try:
        report_subscription_set(user=request.user, kind=kind, active=active)
    except DomainValidationError as error:
        return HttpResponse(error.messages_text(), status=400, content_type="text/plain")
    label = ReportKind(kind).label
    messages.success(
        request,
        f"You will get the {label.lower()} by email."
        if active
        else f"You will no longer get the {label.lower()}.",
    )
    return redirect("analytics:reports")
