"""Staff pages: the at-risk dashboard, its htmx partials, "Recalculate all", the learner page."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainValidationError
from core.views import staff_required
from engagement import charts
from engagement.forms import AtRiskFilterForm
from engagement.models import ScoringRun
from engagement.selectors import dashboard as selectors
from engagement.selectors import learners
from engagement.services.scoring import NEVER_STARTED_MAX_CONFIDENCE, scoring_run_get_or_start

PAGE_SIZE = 25
View = Callable[..., HttpResponse]


def _filter_form(request: HttpRequest) -> tuple[AtRiskFilterForm, dict[str, Any]]:
    """Bind the query string; invalid fields fall back to their defaults (and show errors)."""
    form = AtRiskFilterForm(request.GET or None, course_choices=selectors.course_choices())
    if form.is_bound:
        form.is_valid()
    else:
        form.cleaned_data = {}
    return form, form.filters()


def _list_context(
    run: ScoringRun | None, filters: dict[str, Any], form: AtRiskFilterForm
) -> dict[str, Any]:
    """The stats cards and one page of the at-risk list for these filters."""
    stats = selectors.at_risk_stats(
        run=run, threshold=filters["threshold"], course=filters["course"]
    )
    scores = selectors.at_risk_list(
        run=run,
        threshold=filters["threshold"],
        level=filters["level"],
        course=filters["course"],
        started=filters["started"],
    )
    page: Page = Paginator(scores, PAGE_SIZE).get_page(filters["page"])
    query = {k: v for k, v in filters.items() if k != "page" and v is not None}
    return {
        "run": run,
        "stats": stats,
        "page": page,
        "filters": filters,
        # The form accepts only known courses, and its choices carry their titles.
        "course_title": (
            dict(form.fields["course"].choices).get(filters["course"])
            if filters["course"]
            else None
        ),
        "querystring": urlencode(query),
    }


def _charts(run: ScoringRun | None, course: str | None) -> dict[str, str]:
    """The dashboard's charts for the run, narrowed to the course like the cards and list."""
    if run is None:
        return {"histogram_html": "", "trend_html": ""}
    histogram = selectors.risk_histogram(run=run, course=course)
    trend = selectors.scoring_run_trend(course=course)
    return {
        "histogram_html": charts.figure_html(
            charts.risk_histogram_figure(histogram), div_id="risk-histogram"
        ),
        "trend_html": charts.figure_html(charts.risk_trend_figure(trend), div_id="risk-trend"),
    }


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The at-risk dashboard: stats, risk distribution and trend, the filterable list.

    The course filter narrows every card, both charts and the list to that course's
    enrolments.
    """
    form, filters = _filter_form(request)
    run = selectors.scoring_run_current()
    context = _list_context(run, filters, form)
    context.update(
        form=form,
        in_progress=selectors.scoring_run_in_progress(),
        **_charts(run, filters["course"]),
    )
    return render(request, "engagement/dashboard.html", context)


@require_GET
@staff_required
def at_risk_list(request: HttpRequest) -> HttpResponse:
    """The list partial for htmx filter changes, with the stats cards and the charts swapped
    out-of-band (the course filter applies to them too)."""
    form, filters = _filter_form(request)
    run = selectors.scoring_run_current()
    context = _list_context(run, filters, form)
    context.update(form=form, oob=True, **_charts(run, filters["course"]))
    status = 400 if form.errors else 200
    response = render(request, "engagement/_at_risk_list.html", context, status=status)
    # The address bar follows the filters, so a reload or a shared link shows the same list.
    page = f"&page={filters['page']}" if filters["page"] > 1 else ""
    response["HX-Push-Url"] = f"{reverse('engagement:dashboard')}?{context['querystring']}{page}"
    return response


@require_POST
@staff_required
def recalculate(request: HttpRequest) -> HttpResponse:
    """Start a scoring run of every active enrolment; htmx gets the progress bar, others a
    redirect.

    While today's run is pending or running, a second click shows that run's progress.
    """
    try:
        run, started = scoring_run_get_or_start(requested_by=request.user)
    except DomainValidationError as exc:
        if request.headers.get("HX-Request"):
            return render(
                request,
                "engagement/_run_progress.html",
                {"run": None, "error": exc.messages_text()},
                status=400,
            )
        messages.error(request, exc.messages_text())
        return redirect("engagement:dashboard")
    if request.headers.get("HX-Request"):
        return render(request, "engagement/_run_progress.html", {"run": run})
    if started:
        messages.info(request, f"Scoring run {run.pk} started.")
    else:
        messages.info(request, f"Scoring run {run.pk} is already under way; see its progress.")
    return redirect("engagement:dashboard")


@require_GET
@staff_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar of one run; it keeps polling itself until the run has finished."""
    run = selectors.scoring_run_get(run_id=run_id)
    if run is None:
        raise Http404("No such scoring run.")
    return render(request, "engagement/_run_progress.html", {"run": run})


@require_GET
@staff_required
def learner(request: HttpRequest, user_id: int) -> HttpResponse:
    """One learner: their risk and its course, a row per enrolment, and for the enrolment on
    show (``?course=`` external id, else the riskiest) its drivers, history, recommendations
    and signals; alerts and profile."""
    user = learners.learner_user_get(user_id=user_id)
    if user is None:
        raise Http404("No such learner.")
    course = request.GET.get("course") or None
    detail = learners.learner_detail(user=user, course=course[:128] if course else None)
    history_html = ""
    if detail.score is not None:
        history_html = charts.figure_html(
            charts.score_history_figure(detail.history), div_id="history-chart"
        )
    profile = detail.profile
    preferred_days = [
        calendar.day_name[day - 1]
        for day in (profile.preferred_days if profile else [])
        if 1 <= day <= 7
    ]
    return render(
        request,
        "engagement/learner.html",
        {
            "detail": detail,
            "history_html": history_html,
            "preferred_days": preferred_days,
            "never_started_max_confidence": NEVER_STARTED_MAX_CONFIDENCE,
            **_driver_rows(detail),
        },
    )


def _driver_rows(detail: learners.LearnerDetail) -> dict[str, list[dict[str, Any]]]:
    """The score's drivers that raise and that lower the risk, each with its bar's width (%
    of the largest |contribution| on show), strongest first."""
    score = detail.score
    if score is None:
        return {"raising": [], "lowering": []}
    drivers = score.drivers or []
    scale = max([abs(float(d.get("contribution") or 0)) for d in drivers] + [1.0])

    def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ordered = sorted(items, key=lambda d: -abs(float(d.get("contribution") or 0)))
        return [
            {**d, "bar": round(100 * abs(float(d.get("contribution") or 0)) / scale)}
            for d in ordered
        ]

    return {"raising": rows(score.raising_drivers), "lowering": rows(score.lowering_drivers)}
