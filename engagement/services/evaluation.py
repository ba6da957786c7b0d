"""Measuring the drop-off model on the latest cut-off it could not have trained on.

Evaluation set: the enrolments active as of cut-off c = as_of - H that had not already dropped
off by then (the training population's rule, ``engagement.scoring.labels.already_gone``: those
silent for the horizon before c are left out and counted), labelled by their activity in the
days after c up to as_of. By default a fresh model is fitted as of c (every one of its label
windows ends on or before c), so the evaluated cut-off is truly out of time; it is not stored.
``active=True`` evaluates the stored active model instead; the result says when that model
was trained as of a date after c (then c was among its training cut-offs: in-sample).

Beside the out-of-time figures, the result carries the model's own validation figure and the
split that gave it (by course with three courses or more, else by time; see
``RiskModel.fit``), and two baselines: ranking by days since the last activity, and the
hand-weighted BaselineRiskModel.

Lead time: among enrolments of the evaluation set that dropped off and whose last activity L
was within ``RECENT_DROPOUT_DAYS`` before c, the share already scored high or critical (>= 60)
as of L - 3 and L - 7 days; each needed date is scored once, in bulk, for everybody.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from core.errors import DomainValidationError
from engagement.scoring.evaluation import HIGH_RISK_SCORE, evaluate, lead_time
from engagement.scoring.labels import already_gone, dropped_off
from engagement.scoring.model import BaselineRiskModel, RiskModel
from engagement.scoring.signals import SIGNAL_INDEX
from engagement.selectors.activity import (
    enrolment_daily_events,
    enrolment_withdrawals,
    pair_index,
)
from engagement.services.scoring import active_risk_model, learners_score
from engagement.services.training import risk_model_fit

RECENT_DROPOUT_DAYS = 14


@dataclass(frozen=True)
class CalibrationBin:
    """Rows whose predicted probability fell in one tenth of [0, 1], and how many left."""

    bin: str  # e.g. "0.3-0.4"
    mean_predicted: float
    observed_rate: float
    count: int


@dataclass(frozen=True)
class LeadTime:
    """How early the model flagged enrolments that dropped off soon after their last activity.

    ``learners`` dropped off and were last active within RECENT_DROPOUT_DAYS before the
    cut-off; ``n_3d`` / ``n_7d`` of them had a score 3 / 7 days before that last activity, and
    ``share_flagged_*`` of those scored at least ``threshold`` then (nan when none had a score).
    """

    learners: int
    threshold: float
    n_3d: int
    share_flagged_3d: float
    n_7d: int
    share_flagged_7d: float


@dataclass(frozen=True)
class ModelValidation:
    """The evaluated model's own validation: the honest figure it was chosen and stored with.

    ``split`` is "course" or "time" (see ``RiskModel.fit``), ``scheme`` says it in words.
    """

    split: str
    scheme: str
    roc_auc: float
    examples: int


@dataclass(frozen=True)
class RiskModelEvaluation:
    """The model's figures on one evaluation cut-off, with the baselines beside them."""

    as_of: datetime.date
    cutoff: datetime.date
    horizon_days: int
    # "fitted" (a fresh model as of the cut-off), "active" (the stored version) or "baseline".
    model: str
    model_version: int | None  # the stored version evaluated, if any
    trained_as_of: datetime.date | None  # None for the baseline
    learners: int  # enrolments evaluated (the name predates scores per enrolment)
    already_gone: int  # active enrolments left out: silent for the horizon before the cut-off
    positive_rate: float  # share of the evaluation set that dropped off
    roc_auc: float
    pr_auc: float
    brier: float
    precision_at_10pct: float
    calibration: tuple[CalibrationBin, ...]
    recency_rule_roc_auc: float  # ROC AUC of ranking by days since the last activity
    baseline_roc_auc: float  # ROC AUC of the hand-weighted BaselineRiskModel
    lead_time: LeadTime
    validation: ModelValidation | None  # None for the baseline, which is not validated

    @property
    def in_sample(self) -> bool:
        """True when the model was trained as of a date after the cut-off (it saw the labels)."""
        return self.trained_as_of is not None and self.trained_as_of > self.cutoff


def risk_model_evaluate(
    *,
    as_of: datetime.date | None = None,
    horizon_days: int | None = None,
    active: bool = False,
) -> RiskModelEvaluation:
    """Return the drop-off model's figures on cut-off ``as_of - H``; nothing is stored.

    ``as_of`` defaults to today (UTC); H to the active model's horizon with ``active``, else
    the STRIDE_RISK_HORIZON_DAYS setting. Raises DomainValidationError naming ``horizon_days``
    for a horizon under one day, and ``as_of`` when no model can be fitted as of the cut-off
    or no enrolment was at stake then.
    """
    as_of = as_of or timezone.now().astimezone(datetime.UTC).date()
    if horizon_days is not None and horizon_days < 1:
        raise DomainValidationError({"horizon_days": ["The horizon must be at least one day."]})
    model: RiskModel | BaselineRiskModel
    if active:
        model, version, model_horizon = active_risk_model()
        horizon = horizon_days or model_horizon
        cutoff = as_of - datetime.timedelta(days=horizon)
        kind = "baseline" if version is None else "active"
        model_version = version.version if version is not None else None
        trained_as_of = version.as_of if version is not None else None
        stored_metrics = version.metrics if version is not None else {}
    else:
        horizon = horizon_days or settings.STRIDE_RISK_HORIZON_DAYS
        cutoff = as_of - datetime.timedelta(days=horizon)
        try:
            model, stored_metrics = risk_model_fit(as_of=cutoff, horizon_days=horizon)
        except DomainValidationError as exc:
            raise DomainValidationError(
                {"as_of": [f"Cannot fit a model as of {cutoff}: {exc.messages_text()}"]}
            ) from exc
        kind, model_version, trained_as_of = "fitted", None, cutoff

    scored = learners_score(as_of=cutoff, model=model, horizon_days=horizon)
    gone = already_gone(
        days_since_last=np.where(
            scored["never_started"], np.inf, scored["X"][:, SIGNAL_INDEX["recency_days"]]
        ),
        enrolment_age=scored["enrolment_age"],
        withdrawn=np.zeros(len(scored["user_ids"]), dtype=bool),
        horizon_days=horizon,
    )
    at_stake = {key: _rows(value, ~gone) for key, value in scored.items()}
    if len(at_stake["user_ids"]) == 0:
        raise DomainValidationError(
            {
                "as_of": [
                    f"Nobody to evaluate as of {cutoff}: no enrolment was at stake then "
                    f"({int(gone.sum())} already gone)."
                ]
            }
        )
    y = evaluation_labels(
        cutoff=cutoff,
        as_of=as_of,
        user_ids=at_stake["user_ids"],
        course_ids=at_stake["course_ids"],
    )
    recency = at_stake["X"][:, SIGNAL_INDEX["recency_days"]]
    metrics = evaluate(y, at_stake["p"])
    return RiskModelEvaluation(
        as_of=as_of,
        cutoff=cutoff,
        horizon_days=horizon,
        model=kind,
        model_version=model_version,
        trained_as_of=trained_as_of,
        learners=int(metrics["n"]),
        already_gone=int(gone.sum()),
        positive_rate=metrics["positive_rate"],
        roc_auc=metrics["roc_auc"],
        pr_auc=metrics["pr_auc"],
        brier=metrics["brier"],
        precision_at_10pct=metrics["precision_at_10pct"],
        calibration=tuple(CalibrationBin(**row) for row in metrics["calibration"]),
        recency_rule_roc_auc=evaluate(y, recency)["roc_auc"],
        baseline_roc_auc=evaluate(y, BaselineRiskModel().predict_proba(at_stake["X"]))["roc_auc"],
        lead_time=_lead_time(at_stake, y, cutoff=cutoff, model=model, horizon_days=horizon),
        validation=_validation(stored_metrics),
    )


def _rows(value: Any, keep: np.ndarray) -> Any:
    """Return the kept rows of one entry of ``learners_score``'s result (others unchanged)."""
    if isinstance(value, np.ndarray) and value.shape[:1] == keep.shape:
        return value[keep]
    if isinstance(value, list) and len(value) == len(keep):
        return [v for v, k in zip(value, keep.tolist(), strict=True) if k]
    return value


def _validation(metrics: dict[str, Any]) -> ModelValidation | None:
    """Return the validation a model's metrics record, None when they record none."""
    if not metrics or "validation_split" not in metrics:
        return None
    auc = metrics.get("roc_auc")
    return ModelValidation(
        split=str(metrics["validation_split"]),
        scheme=str(metrics.get("validation_scheme", "")),
        roc_auc=float("nan") if auc is None else float(auc),
        examples=int(metrics.get("validated_examples") or 0),
    )


def evaluation_labels(
    *, cutoff: datetime.date, as_of: datetime.date, user_ids: np.ndarray, course_ids: np.ndarray
) -> np.ndarray:
    """Return 1 per enrolment row that dropped off in the days after ``cutoff`` up to ``as_of``.

    Dropped off: no activity in the course (or without one) on any of those learner-local
    days, or withdrew from it in them (the label the model is trained on).
    """
    window = {"start": cutoff + datetime.timedelta(days=1), "end": as_of}
    rows = {"user_ids": user_ids, "course_ids": course_ids}
    daily = enrolment_daily_events(**window, **rows)
    return dropped_off(daily, enrolment_withdrawals(**window, **rows))


def _lead_time(
    scored: dict[str, Any],
    y: np.ndarray,
    *,
    cutoff: datetime.date,
    model: RiskModel | BaselineRiskModel,
    horizon_days: int,
) -> LeadTime:
    """Score each needed day before the drop-outs' last activity once, for everybody."""
    recency = scored["X"][:, SIGNAL_INDEX["recency_days"]].astype(np.int64)
    # A never-started enrolment has no last activity to be early about.
    pick = (y == 1) & (recency <= RECENT_DROPOUT_DAYS) & ~scored["never_started"]
    uids, cids = scored["user_ids"][pick], scored["course_ids"][pick]
    last_day = cutoff.toordinal() - recency[pick]
    before: dict[int, np.ndarray] = {}
    for lag in (3, 7):
        values = np.full(len(uids), np.nan)
        for day in np.unique(last_day - lag):
            at = learners_score(
                as_of=datetime.date.fromordinal(int(day)), model=model, horizon_days=horizon_days
            )
            rows = np.flatnonzero(last_day - lag == day)
            pos = pair_index(at["user_ids"], at["course_ids"], uids[rows], cids[rows])
            found = pos >= 0
            values[rows[found]] = at["drop_off"][pos[found]]
        before[lag] = values
    lt = lead_time(before[3], before[7], threshold=HIGH_RISK_SCORE)
    return LeadTime(
        learners=len(uids),
        threshold=lt["threshold"],
        n_3d=int(lt["n_3d"]),
        share_flagged_3d=lt["share_flagged_3d"],
        n_7d=int(lt["n_7d"]),
        share_flagged_7d=lt["share_flagged_7d"],
    )
