"""Score every active enrolment's drop-off risk as of a date (a new scoring run, history kept)."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.models import EngagementScore, ScoringRun
from engagement.selectors.dashboard import at_risk_stats
from engagement.services.scoring import scoring_run_start

HIGH_RISK = 60  # the at-risk threshold of the dashboard; only the level counts are printed


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
        stats = at_risk_stats(run=run, threshold=HIGH_RISK)
        counts = ", ".join(f"{lv} {getattr(stats, lv)}" for lv in EngagementScore.Level.values)
        model = f"model v{run.model_version.version}" if run.model_version else "baseline model"
        self.stdout.write(
            self.style.SUCCESS(
                f"scoring run {run.pk} as of {run.as_of}: {run.total} enrolments of "
                f"{stats.learners} learners scored with the {model} in {seconds:.1f}s "
                f"({counts}; {stats.never_started} never started)"
            )
        )
