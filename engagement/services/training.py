"""Training the drop-off model from Stride's own history and storing it as the active version.

Examples: at several cut-off dates whose label windows end on or before the training date, every
learner then in the scoring population (see ``learner_activity``) is one example; its signals are
computed as of the cut-off (later events ignored) and its label is "dropped off": no activity in
the H days after the cut-off, or withdrew from every enrolment in them. The latest cut-off is
``as_of - H``; earlier ones step back 3 and 4 days alternately (about twice a week) while at
least ``MIN_HISTORY_DAYS`` of history precede them, at most ``MAX_CUTOFFS`` of them. Several
cut-offs give the model learners at every stage of a course (early, middle, late), which the
leave-courses-out research on KDD Cup 2015 data found to rank held-out courses best.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min

from core.errors import DomainValidationError
from engagement.models import Event, RiskModelVersion
from engagement.scoring.labels import dropped_off
from engagement.scoring.model import RiskModel
from engagement.scoring.signals import SIGNAL_NAMES, compute_signals
from engagement.selectors.activity import (
    learner_activity,
    learner_daily_events,
    learner_withdrawals,
)

logger = logging.getLogger(__name__)

CUTOFF_STEPS: tuple[int, ...] = (3, 4)  # days between consecutive cut-offs, alternating
MAX_CUTOFFS = 7
MIN_HISTORY_DAYS = 7  # a cut-off needs this much history before it to say anything
MIN_EXAMPLES = 50
MIN_PER_CLASS = 5

Progress = Callable[[str], None]


def training_cutoffs(
    *, as_of: datetime.date, horizon_days: int, first_day: datetime.date | None
) -> list[datetime.date]:
    """Return the cut-off dates for training as of ``as_of``, latest first."""
    latest = as_of - datetime.timedelta(days=horizon_days)
    if first_day is None or latest < first_day:
        return []
    cutoffs = [latest]
    step = 0
    while len(cutoffs) < MAX_CUTOFFS:
        nxt = cutoffs[-1] - datetime.timedelta(days=CUTOFF_STEPS[step % len(CUTOFF_STEPS)])
        if (nxt - first_day).days < MIN_HISTORY_DAYS:
            break
        cutoffs.append(nxt)
        step += 1
    return cutoffs


def training_examples(
    *, as_of: datetime.date, horizon_days: int, progress: Progress | None = None
) -> dict[str, Any]:
    """Return X, y, groups (cohort), cut-off per example and user ids for training as of a date."""
    say = progress or (lambda _msg: None)
    first = Event.objects.filter(occurred_at__lt=_day_end(as_of)).aggregate(m=Min("occurred_at"))
    first_day = first["m"].date() if first["m"] else None
    cutoffs = training_cutoffs(as_of=as_of, horizon_days=horizon_days, first_day=first_day)
    xs, ys, gs, cs, us = [], [], [], [], []
    for cutoff in cutoffs:
        uids, act = learner_activity(as_of=cutoff)
        if len(uids) == 0:
            continue
        after_start = cutoff + datetime.timedelta(days=1)
        after_end = cutoff + datetime.timedelta(days=horizon_days)
        daily_after = learner_daily_events(start=after_start, end=after_end, user_ids=uids)
        withdrew = learner_withdrawals(start=after_start, end=after_end, user_ids=uids)
        y = dropped_off(daily_after, withdrew)
        xs.append(compute_signals(act))
        ys.append(y)
        gs.append(act.cohort)
        cs.append(np.full(len(uids), cutoff.toordinal()))
        us.append(uids)
        say(f"cut-off {cutoff}: {len(uids)} learners, {y.mean():.1%} dropped off")
    if not xs:
        return {"cutoffs": cutoffs, "X": np.zeros((0, len(SIGNAL_NAMES))), "y": np.zeros(0)}
    return {
        "cutoffs": cutoffs,
        "X": np.vstack(xs),
        "y": np.concatenate(ys).astype(np.int64),
        "groups": np.concatenate(gs),
        "cutoff": np.concatenate(cs),
        "user_ids": np.concatenate(us),
    }


def risk_model_fit(
    *, as_of: datetime.date, horizon_days: int, progress: Progress | None = None
) -> tuple[RiskModel, dict[str, Any]]:
    """Return a RiskModel fitted on the examples as of ``as_of`` and its metrics (not stored).

    Raises DomainValidationError (field ``as_of``) when there are too few examples or one class.
    """
    say = progress or (lambda _msg: None)
    data = training_examples(as_of=as_of, horizon_days=horizon_days, progress=progress)
    y = data["y"]
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    if len(y) < MIN_EXAMPLES or min(n_pos, n_neg) < MIN_PER_CLASS:
        raise DomainValidationError(
            {
                "as_of": [
                    f"Not enough history to train as of {as_of}: {len(y)} examples "
                    f"({n_pos} dropped off, {n_neg} stayed) at cut-offs "
                    f"{', '.join(str(c) for c in data['cutoffs']) or 'none'}; need at least "
                    f"{MIN_EXAMPLES} examples and {MIN_PER_CLASS} of each class. "
                    "Choose a later date or import more activity."
                ]
            }
        )
    say(f"fitting on {len(y)} examples from {len(data['cutoffs'])} cut-offs")
    try:
        model = RiskModel().fit(data["X"], y, data["groups"], seed=0)
    except ValueError as exc:
        raise DomainValidationError({"as_of": [f"Cannot train as of {as_of}: {exc}"]}) from exc
    metrics = {
        **model.metrics,
        "cutoffs": [c.isoformat() for c in data["cutoffs"]],
        "examples_per_cutoff": {
            datetime.date.fromordinal(int(c)).isoformat(): int((data["cutoff"] == c).sum())
            for c in np.unique(data["cutoff"])
        },
        "horizon_days": horizon_days,
    }
    return model, metrics


@transaction.atomic
def risk_model_train(
    *,
    as_of: datetime.date,
    horizon_days: int | None = None,
    progress: Progress | None = None,
) -> RiskModelVersion:
    """Train a RiskModel on Stride's history as of ``as_of`` and store it as the active version.

    The new version is max + 1; every earlier version is deactivated. Raises
    DomainValidationError naming ``as_of`` when the history gives too few examples or one class.
    """
    horizon = int(horizon_days or settings.STRIDE_RISK_HORIZON_DAYS)
    if horizon < 1:
        raise DomainValidationError({"horizon_days": ["The horizon must be at least one day."]})
    model, metrics = risk_model_fit(as_of=as_of, horizon_days=horizon, progress=progress)
    # Lock the versions so two trainings at once cannot pick the same number.
    list(RiskModelVersion.objects.select_for_update().values_list("pk", flat=True))
    version = (RiskModelVersion.objects.aggregate(m=Max("version"))["m"] or 0) + 1
    RiskModelVersion.objects.filter(is_active=True).update(is_active=False)
    stored = RiskModelVersion.objects.create(
        version=version,
        as_of=as_of,
        horizon_days=horizon,
        algorithm=model.candidate or "",
        signal_names=list(SIGNAL_NAMES),
        metrics=_jsonable(metrics),
        examples=int(metrics["n_examples"]),
        artifact=model.to_bytes(),
        is_active=True,
    )
    logger.info("trained risk model v%s (%s) as of %s", version, model.candidate, as_of)
    return stored


def _day_end(day: datetime.date) -> datetime.datetime:
    # Any timezone's as-of day ends by 14 h after the UTC day ends.
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    ) + datetime.timedelta(hours=14)


def _jsonable(value: Any) -> Any:
    """Return ``value`` with numpy scalars and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
