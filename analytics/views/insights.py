"""The insights page (/dashboard/insights/, staff only): the week's insights as cards with
their figures and charts, the run that wrote them, and the status buttons."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics import charts
from analytics.access import analytics_required
from analytics.models import Insight
from analytics.selectors.insights import (
    insight_get,
    insight_list,
    insight_run_get,
    insight_run_weeks,
    insight_status_counts,
)
from analytics.services.insight_writer import SMALLEST_P, number
from analytics.services.insights import insight_status_set
from analytics.services.retention import week_of
from analytics.views.layout import page_context
from core.errors import DomainValidationError
from engagement.charts import figure_html

# The buttons on a card: the status each sets and its label.
ACTIONS = (
    (Insight.Status.ACKNOWLEDGED, "Acknowledge"),
    (Insight.Status.ACTED_ON, "Acted on"),
    (Insight.Status.DISMISSED, "Dismiss"),
)


# How a card names its figures.
FIGURE_LABELS = {
    "this_week": "This week",
    "last_week": "Week before",
    "change_pct": "Change (%)",
    "cohen_d": "Cohen's d",
    "learners": "Learners",
    "rising": "More active",
    "declining": "Less active",
    "top_rise_events": "Largest rise (events)",
    "top_fall_events": "Largest drop (events)",
    "value": "Value",
    "baseline": "Usual",
    "score": "Anomaly score",
    "rho": "Spearman's rho",
    "enrollments": "Scored enrollments",
    "uplift_pct": "Uplift (%)",
    "ci_low_pct": "95% interval from (%)",
    "ci_high_pct": "95% interval to (%)",
    "contacted": "Contacted",
    "held_out": "Held out",
    "p_value": "p (Holm)",
}


def _shown(name: str, value: float) -> str:
    if name == "p_value" and value < SMALLEST_P:
        return f"< {number(SMALLEST_P)}"
    return number(value)


def _card(insight: Insight) -> dict[str, object]:
    """An insight and its figures in the labels' order (JSON columns do not keep it)."""
    order = {name: n for n, name in enumerate(FIGURE_LABELS)}
    names = sorted(insight.figures, key=lambda name: (order.get(name, len(order)), name))
    figures = [
        (FIGURE_LABELS.get(name, name.replace("_", " ")), _shown(name, insight.figures[name]))
        for name in names
    ]
    if insight.kind in ("learners", "intervention"):
        # These p-values are single tests, not Holm-corrected over a family.
        figures = [("p" if label == "p (Holm)" else label, value) for label, value in figures]
    return {"insight": insight, "figures": figures}


def _week(raw: str | None) -> tuple[datetime.date | None, str]:
    if not raw:
        return None, ""
    try:
        return week_of(datetime.date.fromisoformat(raw)), ""
    except ValueError:
        return None, f"“{raw[:40]}” is not a date (YYYY-MM-DD); showing the latest week."


@require_GET
@analytics_required(platform=True)
def insights(request: HttpRequest) -> HttpResponse:
    """The latest week's insights (or `?week=`), filtered by `?status=`."""
    week, error = _week(request.GET.get("week"))
    status = request.GET.get("status", "")
    if status not in Insight.Status.values:
        status = ""
    run = insight_run_get(week=week)
    rows = list(insight_list(week=run.week, status=status or None)) if run else []
    counts = insight_status_counts(week=run.week) if run else {}
    context = page_context(
        request,
        "insights:insights",
        run=run,
        cards=[_card(i) for i in rows],
        weeks=insight_run_weeks(),
        status=status,
        statuses=[(value, label, counts.get(value, 0)) for value, label in Insight.Status.choices],
        actions=ACTIONS,
        week_error=error,
        missing_week=week if week is not None and run is None else None,
        csv_query=None,
        movements_chart=figure_html(charts.movements_figure(run.movements), div_id="movements")
        if run and run.movements
        else "",
    )
    return render(request, "analytics/insights.html", context)


@require_POST
@analytics_required(platform=True)
def insight_status(request: HttpRequest, insight_id: int) -> HttpResponse:
    """Set one insight's status (POST `status`), then back to the page it was set on."""
    insight = insight_get(insight_id=insight_id)
    if insight is None:
        raise Http404("No such insight.")
    try:
        insight_status_set(insight=insight, status=request.POST.get("status"), actor=request.user)
    except DomainValidationError as error:
        return HttpResponse(error.messages_text(), status=400, content_type="text/plain")
    messages.success(request, f"“{insight.headline}” marked {insight.get_status_display()}.")
    back = request.POST.get("next", "")
    page = reverse("insights:insights")
    return redirect(back if back.startswith(page) else f"{page}?week={insight.week}")
