"""Compute the daily analytics aggregates: the incremental refresh, or a backfill of dates."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.aggregates import aggregates_backfill, aggregates_refresh
from analytics.services.nightly import analytics_derive


class Command(BaseCommand):
    help = (
        "Recompute the days changed since the last refresh, or with --from and --to every "
        "learner-local day of that range (a backfill)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", type=datetime.date.fromisoformat)
        parser.add_argument("--to", dest="end", type=datetime.date.fromisoformat)

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = options["start"], options["end"]
        if (start is None) != (end is None):
            raise CommandError("give both --from and --to, or neither")
        if start is not None and end < start:
            raise CommandError(f"--to {end} is before --from {start}")

        def progress(chunk_start: datetime.date, chunk_end: datetime.date, done: int) -> None:
            self.stdout.write(f"  {chunk_start}..{chunk_end} done ({done} days)")

        started = time.perf_counter()
        if start is not None:
            total = (end - start).days + 1
            self.stdout.write(f"backfilling {total} days, {start} to {end}")
            run = aggregates_backfill(start, end, progress=progress)
        else:
            self.stdout.write("refreshing the days changed since the last refresh")
            refreshed = aggregates_refresh(progress=progress)
            if refreshed is None:
                raise CommandError("another refresh is under way; try again later")
            run = refreshed
        derived = analytics_derive()
        seconds = time.perf_counter() - started
        span = f", {run.first_day} to {run.last_day}" if run.days else ""
        self.stdout.write(
            self.style.SUCCESS(f"aggregate run {run.pk}: {run.days} days{span} in {seconds:.1f}s")
        )
        self.stdout.write(
            f"funnels: {derived.funnel_rows} enrollments; anomalies: {derived.anomalies} found, "
            f"{derived.alerted} new told to staff; retention: {derived.retention.cells} cells, "
            f"{derived.retention.lifecycle_weeks} lifecycle weeks; "
            f"forecasts: {derived.forecasts} stored"
        )
