"""The live-sessions page: upcoming sessions with each registered learner's predicted no-show
risk and its reasons, riskiest first, and the model card (baseline against model)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics import charts
from analytics import no_show_model as core
from analytics.access import analytics_required, can_see_platform, visible_courses
from analytics.selectors.no_show import UPCOMING_DAYS, no_show_model_card, upcoming_sessions
from analytics.services.no_show import PREDICT_HOURS
from analytics.views.layout import csv_response, page_context, wants_csv
from engagement.charts import figure_html

WEIGHT_LABELS = {
    "no_show_rate": "no-show rate",
    "reschedule_rate": "reschedule rate",
    "unreliability": "1 \u2212 reliability",
    "drop_off_risk": "drop-off risk",
}
CSV_HEADER = ["session", "title", "course", "starts_at", "user", "probability", "source", "reasons"]


def _short(title: str, length: int = 24) -> str:
    """A chart label that leaves a phone's chart room for its bars."""
    return title if len(title) <= length else title[: length - 1].rstrip() + "\u2026"


@require_GET
@analytics_required()
def live_sessions(request: HttpRequest) -> HttpResponse:
    """Staff (every course) and instructors (theirs): who is likely to miss which session."""
    context = page_context(request, "analytics:live_sessions", csv_query={"format": "csv"})
    selection = context["selection"]
    courses = None if can_see_platform(request.user) else visible_courses(request.user)
    sessions = upcoming_sessions(now=timezone.now(), courses=courses, course=selection.course)
    if wants_csv(request):
        return csv_response(
            f"live-sessions-{timezone.now():%Y%m%d-%H%M}.csv",
            CSV_HEADER,
            (
                [
                    s.external_id,
                    s.title,
                    s.course_external_id,
                    s.starts_at.isoformat(),
                    r.user_external_id,
                    r.probability,
                    r.source,
                    "; ".join(r.reasons),
                ]
                for s in sessions
                for r in s.registrations
            ),
        )
    predicted = [s for s in sessions if s.predicted]
    chart = None
    if predicted:
        chart = figure_html(
            charts.no_show_figure(
                [f"{_short(s.title)}<br>{s.starts_at:%a %d %b %H:%M}" for s in predicted],
                [s.expected_no_shows for s in predicted],
                [len(s.registrations) for s in predicted],
            ),
            div_id="no-show-chart",
        )
    context.update(
        sessions=sessions,
        card=no_show_model_card(),
        chart=chart,
        upcoming_days=UPCOMING_DAYS,
        predict_hours=PREDICT_HOURS,
        weights=[
            (WEIGHT_LABELS[name], round(w * 100)) for name, w in core.BASELINE_WEIGHTS.items()
        ],
        min_outcomes=core.MIN_OUTCOMES,
        min_no_shows=core.MIN_NO_SHOWS,
    )
    return render(request, "analytics/live_sessions.html", context)
