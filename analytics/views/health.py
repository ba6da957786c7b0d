"""The health page: periodic tasks, queues, ingestion and the runs' durations (staff only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics import charts
from analytics.access import analytics_required
from analytics.selectors.health import RunDuration, SystemHealth, system_health
from analytics.views.layout import csv_response, page_context, wants_csv
from core.api import error_body
from engagement.charts import figure_html

RUN_HEADER = ["id", "kind", "status", "started_at", "finished_at", "seconds", "items", "error"]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _run_rows(runs: Iterable[RunDuration]) -> Iterable[list[Any]]:
    for r in runs:
        yield [
            r.id,
            r.kind,
            r.status,
            _iso(r.started_at),
            _iso(r.finished_at),
            r.seconds,
            r.items,
            r.error,
        ]


def _tables(data: SystemHealth) -> dict[str, tuple[Sequence[str], Iterable[Sequence[Any]]]]:
    """Each exportable table of the page: its CSV header and rows."""
    return {
        "tasks": (
            [
                "entry",
                "task",
                "schedule",
                "state",
                "last_sent_by_beat",
                "last_started",
                "last_success",
                "last_success_seconds",
                "last_failure",
                "last_failure_seconds",
                "last_error",
                "successes",
                "failures",
            ],
            (
                [
                    t.entry,
                    t.task,
                    t.schedule,
                    t.state,
                    _iso(t.last_run_at),
                    _iso(t.last_started_at),
                    _iso(t.last_success_at),
                    t.last_success_seconds,
                    _iso(t.last_failure_at),
                    t.last_failure_seconds,
                    t.last_error,
                    t.successes,
                    t.failures,
                ]
                for t in data.tasks
            ),
        ),
        "queues": (["queue", "messages"], ([q.queue, q.messages] for q in data.queues)),
        "ingestion": (
            ["minute", "events"],
            ([_iso(minute), n] for minute, n in data.ingestion.minutes),
        ),
        "scoring": (RUN_HEADER, _run_rows(data.scoring_runs)),
        "aggregates": (RUN_HEADER, _run_rows(data.aggregate_runs)),
    }


@require_GET
@analytics_required(platform=True)
def health(request: HttpRequest) -> HttpResponse:
    """Staff only: is every periodic task succeeding on time, is work piling up in a queue,
    are events arriving, how long do the nightly runs take."""
    data = system_health()
    if wants_csv(request):
        tables = _tables(data)
        table = request.GET.get("table", "")
        if table not in tables:
            message = f"Choose one of {', '.join(tables)}."
            return JsonResponse(
                error_body("invalid", f"table: {message}", {"table": [message]}), status=400
            )
        header, rows = tables[table]
        return csv_response(f"analytics-health-{table}-{data.now:%Y%m%d-%H%M}.csv", header, rows)
    context = page_context(request, "analytics:health", csv_query=None)
    durations = [
        (
            "Scoring runs",
            [
                (r.started_at, r.seconds)
                for r in reversed(data.scoring_runs)
                if r.seconds is not None
            ],
        ),
        (
            "Aggregate runs",
            [
                (r.started_at, r.seconds)
                for r in reversed(data.aggregate_runs)
                if r.seconds is not None
            ],
        ),
    ]
    context.update(
        data=data,
        counts=data.counts,
        reported=any(t.successes or t.failures for t in data.tasks),
        queued=sum(q.messages or 0 for q in data.queues),
        broker_down=any(q.messages is None for q in data.queues),
        ingestion_chart=figure_html(
            charts.per_minute_figure(data.ingestion.minutes, y_title="Events received"),
            div_id="ingestion-rate",
        ),
        has_durations=any(points for _, points in durations),
        durations_chart=figure_html(charts.durations_figure(durations), div_id="run-durations"),
    )
    return render(request, "analytics/health.html", context)
