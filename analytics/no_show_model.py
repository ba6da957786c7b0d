"""The no-show model's numerical core: features of a registration, the weighted baseline, the
trained and calibrated logistic regression, and their evaluation on held-out sessions.

No Django here: callers (analytics.services.no_show) turn stored registrations into
`History` and `Upcoming` records and store what comes back.

The baseline is the brief's weighted score of four components, each between 0 and 1:

    p = 0.4 * no-show rate + 0.2 * reschedule rate + 0.2 * (1 - reliability) + 0.2 * drop-off risk

- no-show rate: of the learner's earlier registrations with an outcome, the share missed;
- reschedule rate: of their earlier registrations, the share they moved to another session;
- reliability: of their earlier registrations (whatever became of them: attended, missed,
  cancelled, moved), the share they kept, i.e. attended; so it also counts cancellations and
  reschedules against them, which the no-show rate does not;
- drop-off risk: engagement's latest risk score of the enrolment (0-100, as a share).

"Earlier" is sessions that started before the one predicted, so a training row never sees its
own outcome. The three rates are smoothed towards a prior (`PRIOR_WEIGHT` registrations' worth
of `PRIORS`), so that a learner with one miss is not 100% unreliable and a newcomer is not 0%.

With enough history (`MIN_OUTCOMES`, `MIN_NO_SHOWS`) a logistic regression on the same
components and a few more (`MODEL_FEATURES`) is trained on the older sessions, calibrated
(Platt scaling by cross-validation on the training part), and evaluated against the baseline
on the latest sessions (`HOLDOUT_SHARE` of them, whole sessions). It replaces the baseline only
if it does clearly better on ROC AUC and has a lower log loss there (`MIN_MODEL_AUC`,
`MIN_AUC_GAIN`).
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BASELINE_WEIGHTS: dict[str, float] = {
    "no_show_rate": 0.4,
    "reschedule_rate": 0.2,
    "unreliability": 0.2,
    "drop_off_risk": 0.2,
}
# The smoothing prior of each rate: a newcomer counts as PRIOR_WEIGHT registrations at these.
PRIORS: dict[str, float] = {"no_show_rate": 0.3, "reschedule_rate": 0.1, "reliability": 0.6}
PRIOR_WEIGHT = 2.0
# A learner without a drop-off score (never scored) counts as middling.
UNKNOWN_DROP_OFF_RISK = 0.5
# The model's extra inputs, beyond the baseline's four components.
EXTRA_FEATURES = ("evening", "lead_days", "rescheduled", "history")
MODEL_FEATURES = (*BASELINE_WEIGHTS, *EXTRA_FEATURES)
# Enough history to train: registrations of past sessions with an outcome, and no-shows among
# them (a logistic regression on 8 inputs wants ~20 events per input; 30 misses are the
# least that leave several in the held-out part).
MIN_OUTCOMES = 200
MIN_NO_SHOWS = 30
# To replace the baseline the model must discriminate on its own (held-out ROC AUC at least
# MIN_MODEL_AUC) and beat the baseline's AUC by MIN_AUC_GAIN with a lower log loss: on a few
# hundred held-out registrations a history with no signal can win a coin toss, not both bars.
MIN_MODEL_AUC = 0.6
MIN_AUC_GAIN = 0.02
# The latest sessions holding this share of the outcomes are held out for evaluation.
HOLDOUT_SHARE = 0.25
EVENING_FROM_HOUR = 18
# Log loss needs probabilities strictly inside (0, 1); the baseline can reach 0 or 1.
EPS = 1e-3

REASON_WORDS: dict[str, str] = {
    "no_show_rate": "missed {n_missed} of {n_outcomes} earlier sessions",
    "reschedule_rate": "rescheduled {n_rescheduled} of {n_registrations} earlier registrations",
    "unreliability": "kept {n_attended} of {n_registrations} earlier registrations",
    "drop_off_risk": "drop-off risk {risk_percent}%",
    "evening": "an evening session in their time zone",
    "lead_days": "registered {lead_days_whole} days ahead",
    "rescheduled": "moved here from another session",
    "history": "{n_outcomes} earlier sessions on record",
}
NEWCOMER_REASON = "no attendance history yet"
NOTHING_REASON = "no risk factor stands out"


@dataclass(frozen=True)
class Registration:
    """One registration as the model sees it (plain data from the database)."""

    registration_id: int
    user_id: int
    session_id: int
    starts_at: datetime
    registered_at: datetime
    status: str  # registered, cancelled, rescheduled
    attended: bool | None
    rescheduled_from: bool
    local_hour: int  # the session's start hour in the learner's time zone


@dataclass(frozen=True)
class Features:
    """The inputs of one prediction, with the counts behind the rates (for the reasons)."""

    values: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)

    def vector(self) -> list[float]:
        return [self.values[name] for name in MODEL_FEATURES]


def _smoothed(hits: int, total: int, prior: float) -> float:
    return (hits + PRIOR_WEIGHT * prior) / (total + PRIOR_WEIGHT)


def features_of(
    target: Registration, earlier: Sequence[Registration], drop_off_risk: float | None
) -> Features:
    """The features of `target` from the learner's registrations for sessions that started
    before it (`earlier`) and the enrolment's drop-off risk (0-1, None if never scored)."""
    n_registrations = len(earlier)
    outcomes = [r for r in earlier if r.attended is not None]
    n_missed = sum(1 for r in outcomes if r.attended is False)
    n_attended = sum(1 for r in earlier if r.attended is True)
    n_rescheduled = sum(1 for r in earlier if r.status == "rescheduled")
    reliability = _smoothed(n_attended, n_registrations, PRIORS["reliability"])
    risk = UNKNOWN_DROP_OFF_RISK if drop_off_risk is None else min(max(drop_off_risk, 0.0), 1.0)
    lead_days = max((target.starts_at - target.registered_at).total_seconds() / 86400, 0.0)
    values = {
        "no_show_rate": _smoothed(n_missed, len(outcomes), PRIORS["no_show_rate"]),
        "reschedule_rate": _smoothed(n_rescheduled, n_registrations, PRIORS["reschedule_rate"]),
        "unreliability": 1.0 - reliability,
        "drop_off_risk": risk,
        "evening": 1.0 if target.local_hour >= EVENING_FROM_HOUR else 0.0,
        "lead_days": math.log1p(lead_days),
        "rescheduled": 1.0 if target.rescheduled_from else 0.0,
        "history": math.log1p(len(outcomes)),
    }
    counts = {
        "n_registrations": n_registrations,
        "n_outcomes": len(outcomes),
        "n_missed": n_missed,
        "n_attended": n_attended,
        "n_rescheduled": n_rescheduled,
        "risk_percent": round(risk * 100),
        "lead_days_whole": int(lead_days),
    }
    return Features(values=values, counts=counts)


def features_history(
    registrations: Sequence[Registration],
    drop_off_risk: dict[tuple[int, int], float],
    *,
    now: datetime | None = None,
    targets: set[int] | None = None,
) -> dict[int, Features]:
    """Features of every registration by id (or only of the ids in `targets`), each from its
    learner's earlier sessions.

    `drop_off_risk` maps (user id, session id) to the risk to use (missing: never scored).
    With `now`, sessions from then on are not history for anyone (an upcoming session has
    no outcome yet, and must not count as one not kept).
    """
    by_user: dict[int, list[Registration]] = {}
    for reg in registrations:
        by_user.setdefault(reg.user_id, []).append(reg)
    out: dict[int, Features] = {}
    for regs in by_user.values():
        regs.sort(key=lambda r: (r.starts_at, r.registration_id))
        for index, reg in enumerate(regs):
            if targets is not None and reg.registration_id not in targets:
                continue
            before = reg.starts_at if now is None else min(reg.starts_at, now)
            earlier = [r for r in regs[:index] if r.starts_at < before]
            out[reg.registration_id] = features_of(
                reg, earlier, drop_off_risk.get((reg.user_id, reg.session_id))
            )
    return out


def baseline_probability(values: dict[str, float]) -> float:
    """The brief's weighted score of the four components (0-1)."""
    return sum(weight * values[name] for name, weight in BASELINE_WEIGHTS.items())


# A newcomer's components: what the reasons measure a learner against (a learner who missed
# 0 of 3 sessions has a no-show rate, but it is no reason to expect them to miss this one).
REFERENCE: dict[str, float] = {
    "no_show_rate": PRIORS["no_show_rate"],
    "reschedule_rate": PRIORS["reschedule_rate"],
    "unreliability": 1.0 - PRIORS["reliability"],
    "drop_off_risk": UNKNOWN_DROP_OFF_RISK,
}


def baseline_contributions(values: dict[str, float]) -> dict[str, float]:
    """How much each component adds to the baseline probability beyond a newcomer's
    (weight x (value - reference)); negative where the learner does better than that."""
    return {
        name: weight * (values[name] - REFERENCE[name]) for name, weight in BASELINE_WEIGHTS.items()
    }


HISTORY_INPUTS = frozenset({"no_show_rate", "reschedule_rate", "unreliability", "history"})


def reasons_of(features: Features, contributions: dict[str, float], top: int = 3) -> list[str]:
    """The top contributing inputs in plain words, largest first (those raising it only).

    A newcomer's rates are the priors, not anything they did: they are named as having no
    history instead.
    """
    words: list[str] = []
    if features.counts.get("n_registrations", 0) == 0:
        words.append(NEWCOMER_REASON)
        contributions = {k: v for k, v in contributions.items() if k not in HISTORY_INPUTS}
    ranked = sorted(
        ((value, name) for name, value in contributions.items() if value > 0), reverse=True
    )
    for _, name in ranked[: top - len(words)]:
        words.append(REASON_WORDS[name].format(**features.counts))
    return words or [NOTHING_REASON]


@dataclass(frozen=True)
class Scores:
    auc: float | None  # None when the held-out part has one class only
    log_loss: float


@dataclass
class TrainingResult:
    """What a training attempt found: whether the model beat the baseline, and why not."""

    n_outcomes: int
    n_no_shows: int
    n_train: int = 0
    n_holdout: int = 0
    model: Scores | None = None
    baseline: Scores | None = None
    beats_baseline: bool = False
    note: str = ""
    coefficients: dict[str, float] = field(default_factory=dict)
    feature_means: dict[str, float] = field(default_factory=dict)
    fitted: object | None = None  # the calibrated classifier


def _scores(y: np.ndarray, p: np.ndarray) -> Scores:
    p = np.clip(p, EPS, 1 - EPS)
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else None
    return Scores(auc=auc, log_loss=float(log_loss(y, p, labels=[0, 1])))


def model_train(
    rows: Sequence[tuple[int, datetime, Features, bool]], *, seed: int = 0
) -> TrainingResult:
    """Train on past registrations (session id, session start, features, missed) and
    evaluate against the baseline on the latest sessions; see the module's docstring."""
    y_all = np.array([1 if missed else 0 for *_, missed in rows])
    result = TrainingResult(n_outcomes=len(rows), n_no_shows=int(y_all.sum()))
    if result.n_outcomes < MIN_OUTCOMES or result.n_no_shows < MIN_NO_SHOWS:
        result.note = (
            f"Not enough history: {result.n_outcomes} outcomes and {result.n_no_shows} "
            f"no-shows; training needs {MIN_OUTCOMES} and {MIN_NO_SHOWS}."
        )
        return result
    # Whole sessions, latest first, until they hold HOLDOUT_SHARE of the outcomes.
    starts: dict[int, datetime] = {}
    sizes: dict[int, int] = {}
    for session_id, starts_at, _, _ in rows:
        starts[session_id] = starts_at
        sizes[session_id] = sizes.get(session_id, 0) + 1
    held: set[int] = set()
    count = 0
    for session_id in sorted(starts, key=lambda s: (starts[s], s), reverse=True):
        if count >= HOLDOUT_SHARE * len(rows):
            break
        held.add(session_id)
        count += sizes[session_id]
    test = np.array([session_id in held for session_id, *_ in rows])
    x_all = np.array([f.vector() for _, _, f, _ in rows])
    x_train, y_train, x_test, y_test = x_all[~test], y_all[~test], x_all[test], y_all[test]
    result.n_train, result.n_holdout = len(y_train), len(y_test)
    if len(set(y_train.tolist())) < 2 or y_train.sum() < 6:
        result.note = "The older sessions hold too few no-shows to train on."
        return result
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    fitted = CalibratedClassifierCV(pipeline, method="sigmoid", cv=3)
    fitted.fit(x_train, y_train)
    p_model = fitted.predict_proba(x_test)[:, 1]
    p_base = np.array([baseline_probability(f.values) for _, _, f, _ in rows])[test]
    result.model, result.baseline = _scores(y_test, p_model), _scores(y_test, p_base)
    result.fitted = fitted
    # The coefficients of one plain fit on the training part, for the model card and the
    # reasons (the calibrated classifier averages three such fits).
    plain = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    plain.fit(x_train, y_train)
    scaler, logistic = plain[0], plain[1]
    result.coefficients = {
        name: float(coef / scale)
        for name, coef, scale in zip(MODEL_FEATURES, logistic.coef_[0], scaler.scale_, strict=True)
    }
    result.feature_means = {
        name: float(mean) for name, mean in zip(MODEL_FEATURES, x_train.mean(axis=0), strict=True)
    }
    model_auc, base_auc = result.model.auc, result.baseline.auc
    result.beats_baseline = bool(
        model_auc is not None
        and base_auc is not None
        and model_auc >= MIN_MODEL_AUC
        and model_auc >= base_auc + MIN_AUC_GAIN
        and result.model.log_loss < result.baseline.log_loss
    )
    result.note = (
        "The model beats the baseline on the held-out sessions and replaces it."
        if result.beats_baseline
        else "The model does not beat the baseline on the held-out sessions; the baseline stays."
    )
    return result


def model_dumps(fitted: object) -> bytes:
    """The fitted classifier as bytes to store."""
    buffer = io.BytesIO()
    pickle.dump(fitted, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def model_loads(data: bytes) -> object:
    """A classifier stored by `model_dumps` (bytes Stride wrote itself, never user input)."""
    return pickle.loads(data)


def model_predict(fitted: object, features: Sequence[Features]) -> list[float]:
    """The calibrated no-show probability of each feature set."""
    if not features:
        return []
    x = np.array([f.vector() for f in features])
    return [float(p) for p in fitted.predict_proba(x)[:, 1]]  # type: ignore[attr-defined]


def model_contributions(
    coefficients: dict[str, float], means: dict[str, float], values: dict[str, float]
) -> dict[str, float]:
    """How much each input pushes this prediction's log-odds above the average learner's.

    Only an input above the average that raises the risk counts (a positive coefficient): a
    low input with a negative coefficient raises it too, but "rescheduled 0 of 12" is no
    reason a person would give. The others are 0.
    """
    out = {}
    for name in MODEL_FEATURES:
        excess = values[name] - means.get(name, 0.0)
        push = coefficients.get(name, 0.0) * excess
        out[name] = push if excess > 0 and push > 0 else 0.0
    return out
