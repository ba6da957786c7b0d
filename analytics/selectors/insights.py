"""Reading the stored weekly insights for the page and the API."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from analytics.models import Insight, InsightRun


def insight_run_weeks(*, limit: int = 26) -> list[InsightRun]:
    """The latest `limit` finished runs, newest week first (one query; the heavy columns
    deferred)."""
    return list(
        InsightRun.objects.filter(status=InsightRun.Status.DONE)
        .defer("movements", "rejected", "summary")
        .order_by("-week")[:limit]
    )


def insight_run_get(*, week: datetime.date | None = None) -> InsightRun | None:
    """The finished run of `week` (a Monday), or the latest finished one (one query)."""
    runs = InsightRun.objects.filter(status=InsightRun.Status.DONE).order_by("-week")
    if week is not None:
        runs = runs.filter(week=week)
    return runs.first()


def insight_list(
    *, week: datetime.date | None = None, status: str | None = None
) -> QuerySet[Insight]:
    """Insights, newest week first and in the page's order within one, optionally of one week
    and one status; their run and who set the status come in the same query."""
    rows = Insight.objects.select_related("run", "status_by").order_by("-week", "position", "id")
    if week is not None:
        rows = rows.filter(week=week)
    if status:
        rows = rows.filter(status=status)
    return rows


def insight_get(*, insight_id: int) -> Insight | None:
    return Insight.objects.filter(pk=insight_id).first()


def insight_status_counts(*, week: datetime.date) -> dict[str, int]:
    """How many of the week's insights have each status (one query; every status present)."""
    counts = dict.fromkeys(Insight.Status.values, 0)
    for status in Insight.objects.filter(week=week).values_list("status", flat=True):
        counts[status] += 1
    return counts
