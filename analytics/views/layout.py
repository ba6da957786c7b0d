"""What every analytics page shares: the filters, the tabs, CSV exports."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from analytics.access import can_see_platform, visible_courses
from analytics.forms import AnalyticsFilterForm, Selection
from analytics.selectors.aggregates import last_refresh, latest_aggregated_day


@dataclass(frozen=True)
class Tab:
    url_name: str
    label: str
    platform: bool  # staff only


# The analytics navigation, in order; a tab whose page is not routed is left out.
TABS: tuple[Tab, ...] = (
    Tab("analytics:overview", "Overview", True),
    Tab("insights:insights", "Insights", True),
    Tab("analytics:courses", "Courses", False),
    Tab("analytics:instructors", "Instructors", True),
    Tab("analytics:performers", "Performers", False),
    Tab("analytics:first_week", "First week", False),
    Tab("analytics:funnels", "Funnels", False),
    Tab("analytics:cohorts", "Cohorts", False),
    Tab("analytics:trends", "Trends", False),
    Tab("analytics:live_sessions", "Live sessions", False),
    Tab("analytics:health", "Health", True),
    Tab("analytics:reports", "Reports", True),
)


def tabs_for(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    staff = can_see_platform(request.user)
    out = []
    for tab in TABS:
        if tab.platform and not staff:
            continue
        try:
            url = reverse(tab.url_name)
        except NoReverseMatch:
            continue
        out.append({"url": url, "label": tab.label, "current": tab.url_name == current})
    return out


def filters(
    request: HttpRequest, *, course_required: bool = False
) -> tuple[AnalyticsFilterForm, Selection]:
    """The page's filter form and what it selects. With `course_required` there is no
    "All courses" choice (a page about one course falls back to the first visible one); an
    instructor, who sees no platform figures, always has one of their courses selected."""
    one_course = course_required or not can_see_platform(request.user)
    form = AnalyticsFilterForm(
        request.GET,
        courses=visible_courses(request.user),
        latest_day=latest_aggregated_day(),
        all_courses_label="" if one_course else "All courses",
    )
    return form, form.selection()


def page_context(
    request: HttpRequest, current: str, *, course_required: bool = False, **extra: Any
) -> dict[str, Any]:
    """The context every analytics page starts from."""
    form, selection = filters(request, course_required=course_required)
    return {
        "tabs": tabs_for(request, current),
        "form": form,
        "selection": selection,
        "last_run": last_refresh(),
        "csv_query": selection.query(format="csv"),
        **extra,
    }


def rounded(value: float | None, digits: int = 2) -> float | None:
    """`value` rounded for a table or a CSV cell; None (an empty cell) stays None."""
    return None if value is None else round(value, digits)


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    """A CSV download of `rows` under `header` (values written as str; None as empty)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return response
