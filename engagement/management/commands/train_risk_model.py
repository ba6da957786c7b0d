"""Train the drop-off model on Stride's own history and make it the active version."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainValidationError
from engagement.services.training import risk_model_train


class Command(BaseCommand):
    help = (
        "Train the risk model as of a date (every label window ends on or before it): weekly "
        "cut-offs over the whole history, validated by course (3+ courses) or by time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, required=True)
        parser.add_argument("--horizon-days", type=int, default=settings.STRIDE_RISK_HORIZON_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            version = risk_model_train(
                as_of=options["as_of"],
                horizon_days=options["horizon_days"],
                progress=lambda msg: self.stdout.write(msg),
            )
        except DomainValidationError as exc:
            raise CommandError(exc.messages_text()) from exc
        m = version.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"risk model v{version.version} ({version.algorithm}) trained on "
                f"{version.examples} examples in {time.perf_counter() - started:.1f}s: "
                f"validation ROC AUC {m.get('roc_auc', float('nan')):.3f}, "
                f"PR AUC {m.get('pr_auc', float('nan')):.3f}, Brier {m.get('brier', 0):.3f}; "
                f"split {m.get('validation_split', '?')}: {m.get('validation_scheme', '')}; "
                f"calibrated ({m.get('calibration_method', '')}) on {m.get('calibrated_on', '')}"
            )
        )
        if options["verbosity"] > 1:
            self.stdout.write(json.dumps(m, indent=1))
