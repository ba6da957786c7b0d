"""Write the weekly insights now: the findings of a week, in words, stored for the page."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.services.insights import weekly_insights_write


class Command(BaseCommand):
    help = (
        "Compute the findings of the Monday-to-Sunday week just ended (or the week containing "
        "--week) against the week before, have them written (Claude with ANTHROPIC_API_KEY, "
        "else the built-in writer) and store them; a rerun of a week replaces its insights."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--week",
            type=datetime.date.fromisoformat,
            help="Any day (YYYY-MM-DD) of the week to analyse.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        run = weekly_insights_write(week=options["week"])
        seconds = time.perf_counter() - started
        cost = f", ${run.cost_usd}" if run.cost_usd is not None else ""
        rejected = f", {len(run.rejected)} answer(s) rejected" if run.rejected else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"week of {run.week}: {run.findings} insight(s) written by {run.writer}"
                f"{cost}{rejected} in {seconds:.1f}s"
            )
        )
