"""Score every learner's drop-off risk as of a date (a new scoring run, history kept)."""

from __future__ import annotations

import datetime
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.models import EngagementScore, ScoringRun
from engagement.services.scoring import scoring_run_start


class Command(BaseCommand):
    help = "Run a scoring run now (as of today, UTC, unless --as-of)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        run = scoring_run_start(as_of=options["as_of"], execute_now=True)
        seconds = time.perf_counter() - started
        if run.status != ScoringRun.Status.DONE:
            raise CommandError(f"scoring run {run.pk} {run.status}: {run.error}")
        levels = Counter(
            EngagementScore.objects.filter(run=run).values_list("level", flat=True).iterator()
        )
        model = f"model v{run.model_version.version}" if run.model_version else "baseline model"
        self.stdout.write(
            self.style.SUCCESS(
                f"scoring run {run.pk} as of {run.as_of}: {run.total} learners scored with the "
                f"{model} in {seconds:.1f}s "
                f"({', '.join(f'{lv} {levels.get(lv, 0)}' for lv in EngagementScore.Level.values)})"
            )
        )
