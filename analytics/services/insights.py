"""The weekly insights run: find what changed, write it, store it; and the status staff give
each insight."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from analytics.models import Insight, InsightRun
from analytics.services.findings import week_findings, week_just_ended
from analytics.services.insight_writer import insights_write
from analytics.services.retention import week_of
from core.errors import DomainValidationError, invalid_choice_message

UPDATED_ON_RERUN = [
    "run",
    "kind",
    "position",
    "title",
    "headline",
    "body",
    "recommendation",
    "figures",
    "p_value",
    "significant",
    "chart_url",
]


def weekly_insights_write(*, week: datetime.date | None = None, client: Any = None) -> InsightRun:
    """Compute the findings of the Monday-to-Sunday week containing `week` (by default the
    week just ended), have them written (Claude with a key or `client`, else the built-in
    writer) and store the run and its insights. A rerun of the same week updates its run and
    replaces its insights' text (an insight keeps the status staff gave it; one whose finding
    is gone is deleted), so concurrent or repeated runs never duplicate."""
    monday = week_of(week) if week is not None else week_just_ended()
    run, _ = InsightRun.objects.update_or_create(
        week=monday,
        defaults={"status": InsightRun.Status.RUNNING, "started_at": timezone.now(), "error": ""},
    )
    try:
        found = week_findings(monday)
        written = insights_write(found, client=client)
    except Exception as exc:
        InsightRun.objects.filter(pk=run.pk).update(
            status=InsightRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    text = {w.key: w for w in written.insights}
    rows = [
        Insight(
            run=run,
            week=monday,
            key=f.key,
            kind=f.kind,
            position=n,
            title=f.title[:200],
            headline=text[f.key].headline[:200],
            body=text[f.key].body,
            recommendation=text[f.key].recommendation,
            figures=f.figures,
            p_value=f.p_value,
            significant=f.significant,
            chart_url=f.chart_url,
        )
        for n, f in enumerate(found.findings)
    ]
    with transaction.atomic():
        Insight.objects.filter(week=monday).exclude(key__in=[r.key for r in rows]).delete()
        Insight.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["week", "key"],
            update_fields=UPDATED_ON_RERUN,
        )
        for name, value in {
            "status": InsightRun.Status.DONE,
            "writer": written.writer,
            "model": written.model,
            "summary": written.summary,
            "movements": found.movements,
            "findings": len(rows),
            "attempts": written.attempts,
            "rejected": written.rejected,
            "input_tokens": written.input_tokens,
            "output_tokens": written.output_tokens,
            "cost_usd": written.cost_usd,
            "latency_ms": written.latency_ms,
            "finished_at": timezone.now(),
        }.items():
            setattr(run, name, value)
        run.save()
    return run


def insight_status_set(*, insight: Insight, status: Any, actor: User | None) -> Insight:
    """Mark `insight` new, acknowledged, acted on or dismissed, recording who and when; an
    unknown status is a DomainValidationError naming the field."""
    if status not in Insight.Status.values:
        raise DomainValidationError(
            {"status": invalid_choice_message(status, Insight.Status.values)}
        )
    insight.status = status
    insight.status_by = actor
    insight.status_at = timezone.now()
    insight.save(update_fields=["status", "status_by", "status_at"])
    return insight
