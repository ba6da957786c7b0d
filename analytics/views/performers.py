"""The star-performers page: one course's (or, for staff, every learner's) segments by the
composite score, the signals that tell stars from laggards, the top stars and, for staff,
the instructors."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics import performance
from analytics.access import analytics_required, can_see_platform
from analytics.models import PerformerScope
from analytics.performer_charts import effect_sizes_figure, score_distribution_figure
from analytics.selectors.performers import (
    factor_highlights,
    performer_factors,
    performer_members,
    performer_run,
    performer_scores,
)
from analytics.views.instructors import instructor_name
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from engagement.charts import figure_html

TOP_STARS = 10
LABEL_CHARS = 24  # a factor's label on the chart (numbered as in the list), to fit a phone
CSV_HEADER = ["rank", "learner", "segment", "score", *performance.WEIGHTS, "enrollments"]
# (label, weight in %, definition) of each component, as the score computes them.
DEFINITIONS = [
    (
        performance.COMPONENT_LABELS[c],
        round(100 * weight),
        performance.COMPONENT_DEFINITIONS[c],
    )
    for c, weight in performance.WEIGHTS.items()
]


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _percent(value: float | None) -> int | None:
    return None if value is None else round(100 * value)


@require_GET
@analytics_required()
def performers(request: HttpRequest) -> HttpResponse:
    """Staff see every learner (or one course); an instructor one of their courses.
    `?format=csv` downloads every member with their score and components."""
    context = page_context(request, "analytics:performers")
    course = context["selection"].course
    staff = can_see_platform(request.user)
    run = performer_run(course=course)
    if wants_csv(request) and run is not None:
        return csv_response(
            f"analytics-performers-{course.external_id if course else 'all'}.csv",
            CSV_HEADER,
            (
                [
                    m.rank,
                    m.user.external_id,
                    m.segment,
                    m.score,
                    *(rounded(m.components.get(c), 4) for c in performance.WEIGHTS),
                    m.enrollments,
                ]
                for m in performer_members(run=run)
            ),
        )
    extra: dict[str, Any] = {
        "run": run,
        "definitions": DEFINITIONS,
        "csv_query": context["selection"].query(format="csv") if run else None,
    }
    if run is not None:
        factors, more_factors = factor_highlights(performer_factors(run=run))
        stars = performer_members(run=run, segment="star", limit=TOP_STARS)
        extra.update(
            factors=factors,
            more_factors=more_factors,
            average_count=run.population - run.star_count - run.lagging_count,
            stars=[
                {
                    "member": m,
                    "name": m.user.get_full_name() or m.user.external_id,
                    "url": reverse("engagement:learner", args=[m.user_id]) if staff else "",
                    "parts": [_percent(m.components.get(c)) for c in performance.WEIGHTS],
                }
                for m in stars
            ],
            distribution_chart=figure_html(
                score_distribution_figure(
                    performer_scores(run=run),
                    star_threshold=run.star_threshold,
                    lagging_threshold=run.lagging_threshold,
                ),
                div_id="score-distribution",
            )
            if run.population
            else "",
            effects_chart=figure_html(
                effect_sizes_figure(
                    [f"{i}. {_short(f.label)}" for i, f in enumerate(factors, start=1)],
                    [f.cohen_d for f in factors],
                    [f.d_low for f in factors],
                    [f.d_high for f in factors],
                ),
                div_id="factor-effects",
            )
            if factors
            else "",
        )
    if staff and course is None:
        instructors_run = performer_run(scope=PerformerScope.INSTRUCTORS)
        extra["instructors"] = (
            [
                {
                    "member": m,
                    "name": instructor_name(m.user),
                    "star_share": _percent(m.components.get("star_share")),
                    "lagging_share": _percent(m.components.get("lagging_share")),
                }
                for m in performer_members(run=instructors_run)
            ]
            if instructors_run is not None
            else []
        )
    context.update(extra)
    return render(request, "analytics/performers.html", context)
