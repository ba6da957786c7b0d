"""The cohorts page: retention matrix and curves by signup or first-enrollment week, split by
course, a learner property or the 7-day streak, and the weekly lifecycle."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics import charts
from analytics.access import analytics_required, can_see_platform, visible_courses
from analytics.models import CohortKind
from analytics.selectors.retention import (
    BREAKDOWNS,
    COURSE,
    KINDS,
    CohortRow,
    cohort_rows,
    lifecycle_rows,
    retention_curves,
)
from analytics.services.retention import MAX_WEEK_OFFSET, cohort_segment_save
from analytics.views.layout import csv_response, page_context, rounded, wants_csv
from core.errors import DomainValidationError
from engagement.charts import figure_html

MATRIX_CSV_HEADER = [
    "cohort_kind",
    "cohort_week",
    "breakdown",
    "breakdown_value",
    "cohort_size",
    *(f"week_{k}" for k in range(MAX_WEEK_OFFSET + 1)),
]
LIFECYCLE_CSV_HEADER = ["week", "new", "returning", "resurrecting", "dormant"]


def _choice(request: HttpRequest, name: str, choices: dict[str, str], default: str) -> tuple:
    """The query's `name` if it is one of `choices`, else the default and an error."""
    value = request.GET.get(name) or default
    if value in choices:
        return value, ""
    return default, f"Unknown {name} {value!r}; showing {choices[default].lower()}."


def _shade(rate: float | None) -> str:
    """The cell's background: the share as the opacity of the accent (the text says it)."""
    if rate is None:
        return ""
    return f"background: rgba(47, 111, 222, {0.06 + 0.5 * rate:.2f})"


def _matrix_table(rows: list[CohortRow]) -> list[dict[str, Any]]:
    return [
        {
            "row": row,
            "cells": [
                {"n": n, "rate": rate, "percent": round(100 * rate, 1), "style": _shade(rate)}
                for n, rate in zip(row.retained, row.rates, strict=True)
                if rate is not None
            ],
            "padding": range(MAX_WEEK_OFFSET + 1 - len(row.retained)),
        }
        for row in rows
    ]


@require_GET
@analytics_required()
def cohorts(request: HttpRequest) -> HttpResponse:
    """Staff see the platform's cohorts (or one course's, or every course's side by side);
    an instructor one of their own courses. `?kind=signup|enrollment`, `?breakdown=`,
    `?format=csv&table=matrix|lifecycle`."""
    staff = can_see_platform(request.user)
    breakdowns = BREAKDOWNS if staff else {k: v for k, v in BREAKDOWNS.items() if k != COURSE}
    kind, kind_error = _choice(request, "kind", KINDS, CohortKind.SIGNUP)
    breakdown, breakdown_error = _choice(request, "breakdown", breakdowns, "all")
    context = page_context(request, "analytics:cohorts")
    selection = context["selection"]
    if breakdown == COURSE and selection.course is not None:
        breakdown = "all"  # one course chosen: its cohorts, nothing to split by course
    rows = cohort_rows(
        kind=kind,
        breakdown=breakdown,
        course=selection.course,
        start=selection.start,
        end=selection.end,
    )
    lifecycle = lifecycle_rows(course=selection.course, start=selection.start, end=selection.end)
    if wants_csv(request):
        span = f"{selection.start}-{selection.end}"
        if request.GET.get("table") == "lifecycle":
            return csv_response(
                f"analytics-lifecycle-{span}.csv",
                LIFECYCLE_CSV_HEADER,
                (
                    [w.week.isoformat(), w.new, w.returning, w.resurrecting, w.dormant]
                    for w in lifecycle
                ),
            )
        return csv_response(
            f"analytics-retention-{kind}-{breakdown}-{span}.csv",
            MATRIX_CSV_HEADER,
            (
                [
                    r.kind,
                    r.cohort_week.isoformat(),
                    r.breakdown,
                    r.value,
                    r.size,
                    *(rounded(rate, 4) for rate in r.rates),
                    *([None] * (MAX_WEEK_OFFSET + 1 - len(r.rates))),
                ]
                for r in rows
            ),
        )
    has_lifecycle = any(w.new or w.returning or w.resurrecting or w.dormant for w in lifecycle)
    curves = retention_curves(rows)
    context.update(
        kind=kind,
        kinds=KINDS,
        breakdown=breakdown,
        breakdowns=breakdowns,
        breakdown_label=BREAKDOWNS[breakdown],
        control_errors=[e for e in (kind_error, breakdown_error) if e],
        rows=rows,
        matrix=_matrix_table(rows),
        offsets=range(MAX_WEEK_OFFSET + 1),
        has_lifecycle=has_lifecycle,
        lifecycle=lifecycle,
        csv_query=selection.query(format="csv", kind=kind, breakdown=breakdown, table="matrix"),
        lifecycle_csv_query=selection.query(format="csv", table="lifecycle"),
        curves_chart=figure_html(
            charts.retention_curves_figure([(c.label, c.rates) for c in curves]),
            div_id="retention-curves",
        )
        if rows
        else "",
        lifecycle_chart=figure_html(
            charts.lifecycle_figure(
                [w.week for w in lifecycle],
                [w.new for w in lifecycle],
                [w.returning for w in lifecycle],
                [w.resurrecting for w in lifecycle],
                [w.dormant for w in lifecycle],
            ),
            div_id="lifecycle",
        )
        if has_lifecycle
        else "",
    )
    return render(request, "analytics/cohorts.html", context)


@require_POST
@analytics_required()
def cohort_segment(request: HttpRequest) -> HttpResponse:
    """Save one matrix row as a campaigns segment (POST kind, week, breakdown, value,
    course): staff any row, an instructor the rows of their own courses. Staff go to the
    segment's page, instructors (who have no campaigns pages) back to the cohorts."""
    data = request.POST
    course = None
    if data.get("course"):
        course = visible_courses(request.user).filter(external_id=data["course"]).first()
        if course is None:
            raise PermissionDenied("That course's cohorts are not yours to save.")
    elif not can_see_platform(request.user):
        raise PermissionDenied("Choose one of your courses.")
    breakdown, value = data.get("breakdown", ""), data.get("value", "")
    if breakdown == COURSE:  # a course's row of the platform's cohorts
        breakdown, value = "all", ""
    try:
        segment = cohort_segment_save(
            kind=data.get("kind"),
            week=data.get("week"),
            breakdown=breakdown,
            value=value,
            course=course,
            actor=request.user,
        )
    except DomainValidationError as error:
        return HttpResponse(error.messages_text(), status=400, content_type="text/plain")
    messages.success(request, f"Saved the cohort as the segment “{segment.name}”.")
    if request.user.is_staff:
        return redirect("campaigns:segment_detail", segment.pk)
    back = data.get("next", "")
    return redirect(back if back.startswith(reverse("analytics:cohorts")) else "analytics:cohorts")
