"""Write the current scoring run's scores as CSV to stdout."""

from __future__ import annotations

import csv
import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.selectors.dashboard import scoring_run_current
from engagement.selectors.scores import score_list

HEADER = (
    "user",
    "drop_off_risk",
    "weekly_risk",
    "monthly_risk",
    "confidence",
    "level",
    "scored_at",
)


class Command(BaseCommand):
    help = "Export scores of the current run (or the latest done run of --as-of) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["csv"], default="csv")
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if scoring_run_current(as_of=options["as_of"]) is None:
            when = f" as of {options['as_of']}" if options["as_of"] else ""
            raise CommandError(f"No finished scoring run{when}; run score_risk first.")
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(HEADER)
        rows = score_list(as_of=options["as_of"]).values_list(
            "user__external_id",
            "user_id",
            "drop_off_risk",
            "weekly_risk",
            "monthly_risk",
            "confidence",
            "level",
            "scored_at",
        )
        for ext, uid, *values, scored_at in rows.iterator(chunk_size=5000):
            writer.writerow(
                [ext if ext is not None else f"id:{uid}", *values, scored_at.isoformat()]
            )
