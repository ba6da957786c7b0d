"""Predict the no-shows of upcoming live sessions; with --train, first retrain the model."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.services.no_show import PREDICT_HOURS, no_show_model_train, no_shows_predict


class Command(BaseCommand):
    help = (
        "Store a no-show probability with its reasons for every registration for a live "
        f"session in the next {PREDICT_HOURS} hours, raising alerts and reminders for the "
        "likely no-shows. With --train, first train the model on the past sessions (it "
        "replaces the weighted baseline only if it beats it on the latest ones)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", action="store_true", help="Retrain the model first.")
        parser.add_argument("--hours", type=int, default=PREDICT_HOURS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["train"]:
            card = no_show_model_train()
            self.stdout.write(f"model v{card.pk}: {card.note}")
            if card.model_auc is not None:
                self.stdout.write(
                    f"  held out {card.n_holdout}: model AUC {card.model_auc:.3f} log loss "
                    f"{card.model_log_loss:.3f}; baseline AUC "
                    f"{card.baseline_auc if card.baseline_auc is not None else float('nan'):.3f}"
                    f" log loss {card.baseline_log_loss:.3f}"
                )
        result = no_shows_predict(hours=options["hours"])
        self.stdout.write(
            f"{result.predicted} registrations predicted ({result.source}); "
            f"{result.alerts} alerts, {result.reminders} reminders queued"
        )
