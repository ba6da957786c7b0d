"""Training the drop-off model from Stride's own history and storing it as the active version.

Examples: at weekly cut-off dates across the whole history, every enrolment then active (see
``learner_activity``: one row per learner x course, the never-started included) is one
example, unless it was already gone (``engagement.scoring.labels.already_gone``: silent for the
horizon before the cut-off, or never started and older than four weeks). Its signals are
computed as of the cut-off (later events ignored) and its label is "dropped off": no activity
of that enrolment in the H days after the cut-off, or withdrawn in them.

The latest cut-off is ``as_of - H`` (every label window ends by ``as_of``); the others step
back a week at a time while at least ``MIN_HISTORY_DAYS`` of history precede them, so a
19-week course gives examples from its first weeks as well as its last, the stages it will be
scored at. A long history is thinned to ``MAX_CUTOFFS`` weekly dates spread over all of it.
Each example is weighted (``example_weights``) so an enrolment seen at many cut-offs, or a big
course, does not outweigh the rest. The fit is validated by course with three courses or
more, otherwise by time, and calibrated on the latest cut-off (``RiskModel.fit``).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min

from core.errors import DomainValidationError
from engagement.models import Event, RiskModelVersion
from engagement.scoring.activity import DEFAULT_WINDOW_DAYS
from engagement.scoring.labels import (
    COURSE_WEIGHT_POWER,
    already_gone,
    dropped_off,
    example_weights,
)
from engagement.scoring.model import RiskModel
from engagement.scoring.signals import SIGNAL_NAMES, compute_signals
from engagement.selectors.activity import (
    enrolment_daily_events,
    enrolment_withdrawals,
    learner_activity,
)
from learning.selectors import enrollment_list

logger = logging.getLogger(__name__)

CUTOFF_STEP_DAYS = 7
MAX_CUTOFFS = 30  # each costs two aggregations of the window's events
MIN_HISTORY_DAYS = 7  # a cut-off needs this much history before it to say anything
MIN_EXAMPLES = 50
MIN_PER_CLASS = 5

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingExamples:
    """The examples of a training date: one row per enrolment and cut-off it was an example at.

    ``cutoff`` holds each row's cut-off as a date ordinal; ``gone`` counts, per cut-off, the
    active enrolments left out because they had already dropped off.
    """

    cutoffs: list[datetime.date]
    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    user_ids: np.ndarray
    course_ids: np.ndarray
    cutoff: np.ndarray
    gone: dict[datetime.date, int]


def training_cutoffs(
    *, as_of: datetime.date, horizon_days: int, first_day: datetime.date | None
) -> list[datetime.date]:
    """Return the weekly cut-off dates for training as of ``as_of``, latest first.

    The latest is ``as_of - horizon_days``; earlier ones follow every CUTOFF_STEP_DAYS back to
    the first week of the history (at least MIN_HISTORY_DAYS after ``first_day``). More than
    MAX_CUTOFFS are thinned to that many, evenly spread, the latest and earliest kept.
    """
    latest = as_of - datetime.timedelta(days=horizon_days)
    if first_day is None or latest < first_day:
        return []
    span = (latest - first_day).days - MIN_HISTORY_DAYS
    weeks = [latest] + [
        latest - datetime.timedelta(days=CUTOFF_STEP_DAYS * k)
        for k in range(1, span // CUTOFF_STEP_DAYS + 1)
    ]
    if len(weeks) > MAX_CUTOFFS:
        keep = np.unique(np.round(np.linspace(0, len(weeks) - 1, MAX_CUTOFFS)).astype(int))
        weeks = [weeks[i] for i in keep]
    return weeks


def history_start(*, as_of: datetime.date) -> datetime.date | None:
    """Return the first day of the history known as of ``as_of``: the first event's, or the
    first enrolment's while there is no event yet.

    Not the first enrolment's when events exist: providers sync registrations months ahead
    of a course, and weekly cut-offs over those silent months would hold no example.
    """
    end = _day_end(as_of)
    first = Event.objects.filter(occurred_at__lt=end).aggregate(m=Min("occurred_at"))["m"]
    if first is None:
        first = enrollment_list().filter(enrolled_at__lt=end).aggregate(m=Min("enrolled_at"))["m"]
    return first.date() if first is not None else None


def training_examples(
    *, as_of: datetime.date, horizon_days: int, progress: Progress | None = None
) -> TrainingExamples:
    """Return the weighted examples for training as of ``as_of`` (see the module docstring)."""
    say = progress or (lambda _msg: None)
    cutoffs = training_cutoffs(
        as_of=as_of, horizon_days=horizon_days, first_day=history_start(as_of=as_of)
    )
    window = max(DEFAULT_WINDOW_DAYS, horizon_days)
    xs, ys, us, cs, ts = [], [], [], [], []
    gone_at: dict[datetime.date, int] = {}
    for cutoff in cutoffs:
        act = learner_activity(as_of=cutoff, window_days=window)
        gone = already_gone(
            days_since_last=act.days_since_last,
            enrolment_age=act.enrolment_age,
            withdrawn=act.withdrawn,
            horizon_days=horizon_days,
        )
        keep = np.flatnonzero(~gone)
        gone_at[cutoff] = int(gone.sum())
        if keep.size == 0:
            say(f"cut-off {cutoff}: no enrolment at stake ({gone_at[cutoff]} already gone)")
            continue
        uids, cids = act.user_ids[keep], act.course_ids[keep]  # still sorted by (user, course)
        after = {
            "start": cutoff + datetime.timedelta(days=1),
            "end": cutoff + datetime.timedelta(days=horizon_days),
            "user_ids": uids,
            "course_ids": cids,
        }
        y = dropped_off(enrolment_daily_events(**after), enrolment_withdrawals(**after))
        xs.append(compute_signals(act)[keep])
        ys.append(y)
        us.append(uids)
        cs.append(cids)
        ts.append(np.full(keep.size, cutoff.toordinal()))
        say(
            f"cut-off {cutoff}: {keep.size} enrolments ({gone_at[cutoff]} already gone left "
            f"out), {y.mean():.1%} dropped off"
        )
    if not xs:
        empty = np.zeros(0, dtype=np.int64)
        return TrainingExamples(
            cutoffs,
            np.zeros((0, len(SIGNAL_NAMES))),
            empty,
            np.zeros(0),
            empty,
            empty,
            empty,
            gone_at,
        )
    user_ids, course_ids = np.concatenate(us), np.concatenate(cs)
    return TrainingExamples(
        cutoffs=cutoffs,
        X=np.vstack(xs),
        y=np.concatenate(ys).astype(np.int64),
        weight=example_weights(user_ids, course_ids),
        user_ids=user_ids,
        course_ids=course_ids,
        cutoff=np.concatenate(ts),
        gone=gone_at,
    )


def risk_model_fit(
    *, as_of: datetime.date, horizon_days: int, progress: Progress | None = None
) -> tuple[RiskModel, dict[str, Any]]:
    """Return a RiskModel fitted on the examples as of ``as_of`` and its metrics (not stored).

    Raises DomainValidationError (field ``as_of``) when there are too few examples, one class,
    or too little history for an honest validation split.
    """
    say = progress or (lambda _msg: None)
    data = training_examples(as_of=as_of, horizon_days=horizon_days, progress=progress)
    y = data.y
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    if len(y) < MIN_EXAMPLES or min(n_pos, n_neg) < MIN_PER_CLASS:
        raise DomainValidationError(
            {
                "as_of": [
                    f"Not enough history to train as of {as_of}: {len(y)} examples "
                    f"({n_pos} dropped off, {n_neg} stayed) at cut-offs "
                    f"{', '.join(str(c) for c in data.cutoffs) or 'none'}; need at least "
                    f"{MIN_EXAMPLES} examples and {MIN_PER_CLASS} of each class. "
                    "Choose a later date or import more activity."
                ]
            }
        )
    say(f"fitting on {len(y)} examples from {len(data.cutoffs)} cut-offs")
    try:
        model = RiskModel().fit(
            data.X,
            y,
            data.course_ids,
            seed=0,
            sample_weight=data.weight,
            times=data.cutoff,
            gap_days=horizon_days,
        )
    except ValueError as exc:
        raise DomainValidationError({"as_of": [f"Cannot train as of {as_of}: {exc}"]}) from exc
    metrics = {
        **model.metrics,
        "cutoffs": [c.isoformat() for c in data.cutoffs],
        "examples_per_cutoff": {
            datetime.date.fromordinal(int(c)).isoformat(): int((data.cutoff == c).sum())
            for c in np.unique(data.cutoff)
        },
        "already_gone_per_cutoff": {c.isoformat(): n for c, n in data.gone.items()},
        "enrolments": int(
            np.unique(np.stack([data.user_ids, data.course_ids], 1), axis=0).shape[0]
        ),
        "weighting": (
            "each enrolment's examples sum to 1, each course's to its enrolments ** "
            f"{COURSE_WEIGHT_POWER:g}"
        ),
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

    The new version is max + 1; every earlier version is deactivated. Its metrics hold the
    honest validation figure (``roc_auc``) and the split that gave it (``validation_split``).
    Raises DomainValidationError naming ``as_of`` when the history gives too few examples, one
    class, or no honest validation split.
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
