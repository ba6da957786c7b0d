"""Print how well the drop-off model ranks enrolments on a cut-off it could not have trained on,
and the model's own validation figure with the split (by course or by time) that gave it.

The measuring is engagement.services.evaluation's; this command parses the options and prints.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainValidationError
from engagement.services.evaluation import (
    RECENT_DROPOUT_DAYS,
    RiskModelEvaluation,
    risk_model_evaluate,
)


class Command(BaseCommand):
    help = (
        "Print ROC AUC, PR AUC, Brier, calibration, precision@10% and lead time out of time, "
        "and the model's validation figure with the split that gave it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--horizon-days", type=int, default=None)
        parser.add_argument(
            "--active", action="store_true", help="Evaluate the stored active model."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = risk_model_evaluate(
                as_of=options["as_of"],
                horizon_days=options["horizon_days"],
                active=options["active"],
            )
        except DomainValidationError as exc:
            raise CommandError(exc.messages_text()) from exc
        name = _model_name(result)
        if result.in_sample:
            self.stdout.write(
                self.style.WARNING(
                    f"{name} was trained as of {result.trained_as_of}, after the evaluation "
                    f"cut-off {result.cutoff}: these figures are in-sample."
                )
            )
        out = self.stdout.write
        out(f"{name}; evaluation cut-off {result.cutoff}, horizon {result.horizon_days} days")
        validation = result.validation
        if validation is not None:
            out(
                f"validation   ROC AUC {validation.roc_auc:.3f} on {validation.examples} held-out "
                f"examples, split {validation.split}: {validation.scheme}"
            )
        out(
            f"enrolments {result.learners} at stake, dropped off {result.positive_rate:.1%} "
            f"({result.already_gone} already gone before the cut-off left out)"
        )
        out(
            f"ROC AUC      {result.roc_auc:.3f}   (days-since-last-activity rule "
            f"{result.recency_rule_roc_auc:.3f}, baseline model {result.baseline_roc_auc:.3f})"
        )
        out(f"PR AUC       {result.pr_auc:.3f}")
        out(f"Brier        {result.brier:.4f}")
        out(f"precision in the top 10 %: {result.precision_at_10pct:.3f}")
        out("calibration  bin      predicted  observed  count")
        for row in result.calibration:
            out(
                f"             {row.bin}  {row.mean_predicted:9.3f}  "
                f"{row.observed_rate:8.3f}  {row.count:5d}"
            )
        lt = result.lead_time
        out(
            f"lead time: of {lt.learners} learners who dropped off (last active within "
            f"{RECENT_DROPOUT_DAYS} days of the cut-off), "
            f"{lt.share_flagged_3d:.1%} were flagged >= {lt.threshold:.0f} 3 days before "
            f"their last activity (n={lt.n_3d}) and {lt.share_flagged_7d:.1%} 7 days "
            f"before (n={lt.n_7d})"
        )


def _model_name(result: RiskModelEvaluation) -> str:
    if result.model == "active":
        return f"active model v{result.model_version}"
    if result.model == "baseline":
        return "baseline model"
    return f"model fitted as of {result.cutoff} (out of time)"
