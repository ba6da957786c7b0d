"""Measure the drop-off model on the latest cut-off it could not have trained on.

Evaluation set: the learners scored as of cut-off c = as_of - H, labelled by their activity in
the H days after c (all known by as_of). By default a fresh model is fitted as of c (every one of
its label windows ends on or before c), so the evaluated cut-off is truly out of time; it is not
stored. ``--active`` evaluates the stored active model instead, and warns when that model was
trained as of a date after c (then c was among its training cut-offs: an in-sample figure).

Lead time: among learners of the evaluation set who dropped off and whose last activity L was
within the 14 days before c, the share already scored high or critical (>= 60) as of L - 3 and
L - 7 days; each needed date is scored once, in bulk, for everybody.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.errors import DomainValidationError
from engagement.scoring.evaluation import HIGH_RISK_SCORE, evaluate, lead_time
from engagement.scoring.labels import dropped_off
from engagement.scoring.model import BaselineRiskModel
from engagement.scoring.signals import SIGNAL_INDEX
from engagement.selectors.activity import learner_daily_events, learner_withdrawals
from engagement.services.scoring import active_risk_model, learners_score
from engagement.services.training import risk_model_fit

RECENT_DROPOUT_DAYS = 14


class Command(BaseCommand):
    help = "Print ROC AUC, PR AUC, Brier, calibration, precision@10% and lead time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--horizon-days", type=int, default=None)
        parser.add_argument(
            "--active", action="store_true", help="Evaluate the stored active model."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.now().astimezone(datetime.UTC).date()
        if options["active"]:
            model, version, horizon = active_risk_model()
            horizon = options["horizon_days"] or horizon
            cutoff = as_of - datetime.timedelta(days=horizon)
            name = f"active model v{version.version}" if version else "baseline model"
            if version is not None and version.as_of > cutoff:
                self.stdout.write(
                    self.style.WARNING(
                        f"{name} was trained as of {version.as_of}, after the evaluation "
                        f"cut-off {cutoff}: these figures are in-sample."
                    )
                )
        else:
            horizon = options["horizon_days"] or settings.STRIDE_RISK_HORIZON_DAYS
            cutoff = as_of - datetime.timedelta(days=horizon)
            try:
                model, _ = risk_model_fit(as_of=cutoff, horizon_days=horizon)
            except DomainValidationError as exc:
                raise CommandError(
                    f"cannot fit a model as of {cutoff}: {exc.messages_text()}"
                ) from exc
            name = f"model fitted as of {cutoff} (out of time)"
        scored = learners_score(as_of=cutoff, model=model, horizon_days=horizon)
        uids = scored["user_ids"]
        if len(uids) == 0:
            raise CommandError(f"nobody to evaluate as of {cutoff}")
        start = cutoff + datetime.timedelta(days=1)
        daily = learner_daily_events(start=start, end=as_of, user_ids=uids)
        y = dropped_off(daily, learner_withdrawals(start=start, end=as_of, user_ids=uids))
        result = evaluate(y, scored["p"])
        rule = evaluate(y, scored["X"][:, SIGNAL_INDEX["recency_days"]])["roc_auc"]
        base = evaluate(y, BaselineRiskModel().predict_proba(scored["X"]))["roc_auc"]
        out = self.stdout.write
        out(f"{name}; evaluation cut-off {cutoff}, horizon {horizon} days")
        out(f"learners {result['n']}, dropped off {result['positive_rate']:.1%}")
        out(
            f"ROC AUC      {result['roc_auc']:.3f}   (days-since-last-activity rule {rule:.3f}, "
            f"baseline model {base:.3f})"
        )
        out(f"PR AUC       {result['pr_auc']:.3f}")
        out(f"Brier        {result['brier']:.4f}")
        out(f"precision in the top 10 %: {result['precision_at_10pct']:.3f}")
        out("calibration  bin      predicted  observed  count")
        for row in result["calibration"]:
            out(
                f"             {row['bin']}  {row['mean_predicted']:9.3f}  "
                f"{row['observed_rate']:8.3f}  {row['count']:5d}"
            )
        self._lead_time(scored, y, cutoff, model, horizon)

    def _lead_time(
        self, scored: dict[str, Any], y: np.ndarray, cutoff: datetime.date, model: Any, h: int
    ) -> None:
        recency = scored["X"][:, SIGNAL_INDEX["recency_days"]].astype(np.int64)
        pick = (y == 1) & (recency <= RECENT_DROPOUT_DAYS)
        uids = scored["user_ids"][pick]
        last_day = np.array([(cutoff.toordinal() - r) for r in recency[pick]])
        before: dict[int, np.ndarray] = {}
        for lag in (3, 7):
            values = np.full(len(uids), np.nan)
            for day in np.unique(last_day - lag):
                at = learners_score(
                    as_of=datetime.date.fromordinal(int(day)), model=model, horizon_days=h
                )
                rows = np.flatnonzero(last_day - lag == day)
                pos = np.searchsorted(at["user_ids"], uids[rows])
                pos = np.clip(pos, 0, max(len(at["user_ids"]) - 1, 0))
                found = at["user_ids"][pos] == uids[rows] if len(at["user_ids"]) else pos < 0
                values[rows[found]] = at["drop_off"][pos[found]]
            before[lag] = values
        lt = lead_time(before[3], before[7], threshold=HIGH_RISK_SCORE)
        self.stdout.write(
            f"lead time: of {len(uids)} learners who dropped off (last active within "
            f"{RECENT_DROPOUT_DAYS} days of the cut-off), "
            f"{lt['share_flagged_3d']:.1%} were flagged >= {HIGH_RISK_SCORE:.0f} 3 days before "
            f"their last activity (n={lt['n_3d']:.0f}) and {lt['share_flagged_7d']:.1%} 7 days "
            f"before (n={lt['n_7d']:.0f})"
        )
