"""The drop-off risk models: a trained, calibrated RiskModel and a hand-weighted baseline.

Both take the signal matrix from ``compute_signals`` (columns in ``SIGNAL_NAMES`` order, one row
per enrolment) and return a drop-off probability per row, its exact contributions in risk
points, and the top drivers as plain sentences (0-100 scale; positive points raise the risk,
negative lower it).

Three properties hold for every model here, and the tests pin them:

* **Honest validation.** The reported validation figure comes from rows the fitted model did
  not see: whole courses held out when there are at least three, otherwise later cut-offs
  predicted by a model fitted only on cut-offs whose outcomes were known by then.
* **Known directions.** Each candidate is constrained to the directions the signal catalogue
  declares (``Signal.direction``): more days without activity never lowers the risk, more
  active days never raises it. Gradient boosting uses scikit-learn's ``monotonic_cst``; the
  logistic regression bounds the sign of each coefficient.
* **Faithful drivers.** ``contributions`` splits each score exactly: base value (the risk of
  the typical learner, the reference) plus the sum of every signal's points equals
  100 x the calibrated probability. For trees the split is the interventional Shapley value
  against the reference, computed exactly leaf by leaf; for the logistic model it is
  coefficient x (transformed value - reference). Both are made in log-odds and rescaled into
  calibrated points by one positive factor per row, so signs survive: with the directions
  constrained, an inactive learner's inactivity never "lowers" the risk.
"""

from __future__ import annotations

import datetime
import io
import math
import time
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from engagement.scoring.evaluation import evaluate
from engagement.scoring.signals import (
    COURSE_SCOPE,
    MODEL_SCOPE,
    SIGNAL_DIRECTIONS,
    SIGNAL_INDEX,
    SIGNAL_NAMES,
    SIGNALS,
)
from engagement.scoring.signals.sentences import mentioned_signals, sentence

CANDIDATES: tuple[str, ...] = ("logistic", "hist_gbm")  # simplest first
# A more complex candidate must beat a simpler one by this much validation AUC to be chosen:
# differences below it are fold noise, and the simpler model is cheaper and easier to explain.
SIMPLICITY_MARGIN = 0.003
ISOTONIC_MIN_EXAMPLES = 5000  # below this, isotonic steps overfit; Platt scaling is steadier
MIN_CALIBRATION_EXAMPLES = 50  # fewer held-out rows at the latest cut-off: use all held out
TIME_FOLDS = 3  # later cut-offs validated one by one in the time split
_TIE_BREAK = 1e-6  # keeps the raw model's ranking inside an isotonic step (AUC is not flattened)
_BLOCK_CELLS = 4_000_000  # rows x leaf conditions per block of the exact tree attribution
# Fits and attributions run single-threaded: on a shared 2-core worker, OpenMP threads that
# wait on each other made one boosting fit take 35 s instead of 6 s (measured, KDD subset).
FIT_THREADS = 1
DIRECTIONS = np.array(SIGNAL_DIRECTIONS, dtype=np.int64)
_APPLIES_IF = tuple((j, sig.applies_if) for j, sig in enumerate(SIGNALS) if sig.applies_if)
# Per signal, the other signals its sentences mention, with their columns.
_MENTIONS = tuple(
    tuple((f, SIGNAL_INDEX[f]) for f in mentioned_signals(name)) for name in SIGNAL_NAMES
)


@dataclass(frozen=True)
class Driver:
    """One signal's share of a score: its risk points and the sentence a person reads.

    ``points`` > 0 raised the risk, < 0 lowered it. ``typical`` is the value it was compared
    with (the course's median, or the model's typical learner). Unpacks as ``(signal,
    points)``, the tuple drivers were before they had text.
    """

    signal: str
    points: float
    value: float
    typical: float | None
    text: str

    def __iter__(self):  # the (signal, points) pair of the older tuple form
        yield self.signal
        yield self.points


@dataclass(frozen=True)
class Contributions:
    """Exact split of scores: ``base + points.sum(axis=1) == 100 * p`` for every row.

    ``base`` is the risk (0-100) of the reference, the model's typical learner; ``points``
    (n, n_signals) are each signal's risk points for each row.
    """

    base: float
    points: np.ndarray


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """Return sign(x) * log1p(|x|): compresses heavy-tailed counts, keeps sentinels ordered."""
    return np.sign(x) * np.log1p(np.abs(x))


class MonotoneLogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-regularised logistic regression whose coefficient signs are bounded.

    ``signs[j]`` = +1 keeps coefficient j >= 0, -1 keeps it <= 0, 0 leaves it free. The
    objective is scikit-learn's: 0.5 * ||coef||^2 + C * sum of weighted log-losses, minimised
    with L-BFGS-B under the bounds. Correlated inputs can then share an effect but never flip
    one against its known direction.
    """

    def __init__(self, C: float = 1.0, signs: Any = None, max_iter: int = 2000) -> None:
        self.C = C
        self.signs = signs
        self.max_iter = max_iter

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> MonotoneLogisticRegression:
        """Fit the bounded coefficients and the free intercept; return self."""
        X = np.asarray(X, dtype=np.float64)
        t = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
        w = np.ones(len(t)) if sample_weight is None else np.asarray(sample_weight, float)
        d = X.shape[1]
        signs = np.zeros(d) if self.signs is None else np.asarray(self.signs, dtype=np.float64)
        c = float(self.C)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef, b = theta[:d], theta[d]
            margin = t * (X @ coef + b)
            loss = c * float(w @ np.logaddexp(0.0, -margin)) + 0.5 * float(coef @ coef)
            s = -c * w * t * _expit(-margin)
            return loss, np.concatenate([X.T @ s + coef, [s.sum()]])

        bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs]
        result = minimize(
            objective,
            np.zeros(d + 1),
            jac=True,
            method="L-BFGS-B",
            bounds=[*bounds, (None, None)],
            options={"maxiter": self.max_iter},
        )
        self.coef_ = result.x[:d][None, :]
        self.intercept_ = result.x[d:]
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = d
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Return the log-odds of drop-off per row."""
        return np.asarray(X, dtype=np.float64) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return (n, 2) probabilities of classes 0 and 1."""
        p = _expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return 1 where the drop-off probability is above one half."""
        return (self.decision_function(X) > 0).astype(np.int64)


def _make_candidate(name: str, seed: int) -> BaseEstimator:
    """Return an unfitted classifier for candidate ``name``, held to the known directions."""
    if name == "logistic":
        # signed_log1p and standardising are increasing, so coefficient signs are directions.
        return make_pipeline(
            FunctionTransformer(signed_log1p),
            StandardScaler(),
            MonotoneLogisticRegression(C=0.5, signs=DIRECTIONS),
        )
    if name == "hist_gbm":
        return HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_iter=100,
            max_leaf_nodes=15,
            min_samples_leaf=50,
            l2_regularization=1.0,
            monotonic_cst=DIRECTIONS.tolist(),
            early_stopping=False,
            random_state=seed,
        )
    raise ValueError(f"unknown candidate {name!r}")


@dataclass(frozen=True)
class ValidationPlan:
    """How a fit is validated: the folds, which rows calibrate, and how to say it.

    ``split`` is "course" (whole courses held out) or "time" (later cut-offs predicted by a
    model fitted on cut-offs whose outcomes were known by then). ``calibration_rows`` are the
    held-out rows of the latest cut-off that calibrate the model.
    """

    split: str
    description: str
    folds: list[tuple[np.ndarray, np.ndarray]]
    calibration_rows: np.ndarray
    calibration_source: str
    validated_times: tuple[int, ...] = ()


def _both_classes(y: np.ndarray, rows: np.ndarray) -> bool:
    return rows.size > 0 and len(np.unique(y[rows])) == 2


def _day(ordinal: int) -> str:
    try:
        return datetime.date.fromordinal(int(ordinal)).isoformat()
    except (ValueError, OverflowError):
        return str(ordinal)


def validation_plan(
    y: np.ndarray,
    groups: np.ndarray,
    *,
    times: np.ndarray | None = None,
    gap_days: int = 0,
    n_splits: int = 5,
    seed: int = 0,
) -> ValidationPlan:
    """Return the honest validation of rows with outcomes ``y``, courses ``groups``, cut-offs
    ``times`` (date ordinals) and a label horizon of ``gap_days``.

    With at least three courses: group k-fold over courses (k = min(n_splits, courses)).
    Otherwise by time: each of the latest TIME_FOLDS cut-offs t is predicted by a model fitted
    on the cut-offs at or before t - gap_days, whose outcome windows had closed by t. Raises
    ValueError when neither split can be made (then no honest figure exists).
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    uniq_groups = np.unique(groups)
    latest = None if times is None or len(times) == 0 else int(np.max(times))
    if len(uniq_groups) >= 3:
        k = min(n_splits, len(uniq_groups))
        # Shuffle the course-to-fold assignment so it does not follow the course ids.
        rng = np.random.default_rng(seed)
        relabel = dict(zip(uniq_groups.tolist(), rng.permutation(len(uniq_groups)), strict=True))
        shuffled = np.array([relabel[g] for g in groups.tolist()])
        folds = [
            (tr, va)
            for tr, va in GroupKFold(n_splits=k).split(np.zeros(len(y)), y, shuffled)
            if _both_classes(y, tr) and _both_classes(y, va)
        ]
        if not folds:
            raise ValueError("no course fold has both outcomes; need more varied data")
        held = np.unique(np.concatenate([va for _, va in folds]))
        calibration, source = held, "every held-out row"
        if latest is not None:
            at_latest = held[np.asarray(times)[held] == latest]
            if at_latest.size >= MIN_CALIBRATION_EXAMPLES and _both_classes(y, at_latest):
                calibration, source = (
                    at_latest,
                    f"held-out rows of the latest cut-off {_day(latest)}",
                )
        return ValidationPlan(
            split="course",
            description=(
                f"by course: {k}-fold over {len(uniq_groups)} courses, each course predicted "
                "by a model that never saw it"
            ),
            folds=folds,
            calibration_rows=calibration,
            calibration_source=source,
        )
    if times is None:
        raise ValueError(
            f"only {len(uniq_groups)} course(s) and no cut-off dates: no honest validation split"
        )
    times = np.asarray(times).astype(np.int64)
    folds, validated = [], []
    for t in np.unique(times)[::-1]:
        tr = np.flatnonzero(times <= t - gap_days)
        va = np.flatnonzero(times == t)
        if _both_classes(y, tr) and _both_classes(y, va):
            folds.append((tr, va))
            validated.append(int(t))
        if len(folds) == TIME_FOLDS:
            break
    if not folds:
        raise ValueError(
            f"only {len(uniq_groups)} course(s), and no cut-off has both outcomes with an "
            f"earlier one (at least {gap_days} days before) to train on: need a longer history"
        )
    dates = ", ".join(_day(t) for t in sorted(validated))
    return ValidationPlan(
        split="time",
        description=(
            f"by time (only {len(uniq_groups)} course(s)): cut-offs {dates} each predicted "
            f"by a model fitted on cut-offs at least {gap_days} days earlier"
        ),
        folds=folds,
        calibration_rows=folds[0][1],
        calibration_source=(
            f"rows of the latest cut-off {_day(validated[0])}, predicted out of time"
        ),
        validated_times=tuple(sorted(validated)),
    )


# --- exact attribution for tree ensembles --------------------------------------------------


@dataclass(frozen=True)
class _LeafBoxes:
    """Every leaf of a tree ensemble as a box: per-feature intervals lo < x <= hi to reach it.

    Entries (one per leaf and feature its path tests) are split by whether the reference
    lies inside the interval (R) or outside it (O), the precomputation that makes each row's
    exact interventional Shapley values a few sparse products (see ``_tree_points``).
    """

    value: np.ndarray  # (L,) leaf values
    a: np.ndarray  # (L,) number of O entries per leaf
    o_feature: np.ndarray
    o_lo: np.ndarray
    o_hi: np.ndarray
    o_leaf: sparse.csr_matrix  # (E_O, L)
    o_to_feature: sparse.csr_matrix  # (L, d): leaf l has an O entry on feature f
    r_feature: np.ndarray
    r_lo: np.ndarray
    r_hi: np.ndarray
    r_leaf_index: np.ndarray  # (E_R,)
    r_leaf: sparse.csr_matrix  # (E_R, L)
    r_to_feature: sparse.csr_matrix  # (E_R, d)
    weight_in: np.ndarray  # [a, b] -> (a-1)! b! / (a+b)!: share of a feature x brings in
    weight_out: np.ndarray  # [a, b] -> a! (b-1)! / (a+b)!: share of a feature x leaves


def _leaf_boxes(est: HistGradientBoostingClassifier, reference: np.ndarray) -> _LeafBoxes:
    """Return the leaf boxes of a fitted binary HistGradientBoostingClassifier.

    Reads its trees (``_predictors``: a node goes left when x <= num_threshold; our signals are
    never NaN, so the missing-value branch never applies). The sum test in the suite checks
    this reading against the model's own predictions.
    """
    d = len(reference)
    values, e_leaf, e_feat, e_lo, e_hi = [], [], [], [], []
    for stage in est._predictors:
        nodes = stage[0].nodes
        stack: list[tuple[int, dict[int, tuple[float, float]]]] = [(0, {})]
        while stack:
            i, box = stack.pop()
            node = nodes[i]
            if node["is_leaf"]:
                leaf = len(values)
                values.append(float(node["value"]))
                for f, (lo, hi) in box.items():
                    e_leaf.append(leaf)
                    e_feat.append(f)
                    e_lo.append(lo)
                    e_hi.append(hi)
                continue
            f, t = int(node["feature_idx"]), float(node["num_threshold"])
            lo, hi = box.get(f, (-math.inf, math.inf))
            stack.append((int(node["right"]), {**box, f: (max(lo, t), hi)}))
            stack.append((int(node["left"]), {**box, f: (lo, min(hi, t))}))
    n_leaves = len(values)
    leaf, feat = np.array(e_leaf, dtype=np.int64), np.array(e_feat, dtype=np.int64)
    lo, hi = np.array(e_lo), np.array(e_hi)
    inside = (reference[feat] > lo) & (reference[feat] <= hi)
    o, r = np.flatnonzero(~inside), np.flatnonzero(inside)
    per_leaf = np.bincount(leaf, minlength=n_leaves)
    depth = int(per_leaf.max()) + 1 if n_leaves else 1
    w_in, w_out = np.zeros((depth, depth)), np.zeros((depth, depth))
    for a in range(depth):
        for b in range(depth):
            total = math.factorial(a + b)
            if a:
                w_in[a, b] = math.factorial(a - 1) * math.factorial(b) / total
            if b:
                w_out[a, b] = math.factorial(a) * math.factorial(b - 1) / total

    def indicator(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)

    return _LeafBoxes(
        value=np.array(values),
        a=np.bincount(leaf[o], minlength=n_leaves),
        o_feature=feat[o],
        o_lo=lo[o],
        o_hi=hi[o],
        o_leaf=indicator(np.arange(len(o)), leaf[o], (len(o), n_leaves)),
        o_to_feature=indicator(leaf[o], feat[o], (n_leaves, d)),
        r_feature=feat[r],
        r_lo=lo[r],
        r_hi=hi[r],
        r_leaf_index=leaf[r],
        r_leaf=indicator(np.arange(len(r)), leaf[r], (len(r), n_leaves)),
        r_to_feature=indicator(np.arange(len(r)), feat[r], (len(r), d)),
        weight_in=w_in,
        weight_out=w_out,
    )


def _tree_points(boxes: _LeafBoxes, X: np.ndarray) -> np.ndarray:
    """Return (n, d) exact interventional Shapley values of the raw margin against the reference.

    For the game "features in S take the row's values, the others the reference's", a leaf
    is reached iff S holds every feature whose interval contains the row but not the
    reference (a of them) and none whose interval contains the reference but not the row
    (b of them). That game's Shapley value gives the leaf's value times (a-1)! b! / (a+b)! to
    each of the first and minus a! (b-1)! / (a+b)! to each of the second; summed over leaves
    the values add up to margin(row) - margin(reference) exactly.
    """
    n, d = X.shape
    out = np.zeros((n, d))
    cells = max(len(boxes.o_feature) + len(boxes.r_feature), 1)
    step = max(1, _BLOCK_CELLS // cells)
    depth = boxes.weight_in.shape[1]
    a_base = (boxes.a * depth)[:, None]
    w_in_flat, w_out_flat = boxes.weight_in.ravel(), boxes.weight_out.ravel()
    o_leaf_t, r_leaf_t = boxes.o_leaf.T.tocsr(), boxes.r_leaf.T.tocsr()
    o_feat_t, r_feat_t = boxes.o_to_feature.T.tocsr(), boxes.r_to_feature.T.tocsr()
    lo_o, hi_o = boxes.o_lo[:, None], boxes.o_hi[:, None]
    lo_r, hi_r = boxes.r_lo[:, None], boxes.r_hi[:, None]
    value = boxes.value[:, None]
    # Entries x rows (the transposed layout): gathering whole feature rows is contiguous.
    for s in range(0, n, step):
        xt = np.ascontiguousarray(X[s : s + step].T)
        xo = xt[boxes.o_feature]
        missed = ((xo <= lo_o) | (xo > hi_o)).astype(np.float32)  # the row leaves an O box
        xr = xt[boxes.r_feature]
        left = ((xr <= lo_r) | (xr > hi_r)).astype(np.float32)  # ... or an R one
        reach = (o_leaf_t @ missed) == 0  # (L, m): the row can reach the leaf at all
        b = np.rint(r_leaf_t @ left).astype(np.int64)
        gain = np.where(reach, value, 0.0)
        cell = a_base + b
        w_in = w_in_flat[cell] * gain
        lost = left * (w_out_flat[cell] * gain)[boxes.r_leaf_index]
        out[s : s + step] = (o_feat_t @ w_in - r_feat_t @ lost).T
    return out


# --- drivers --------------------------------------------------------------------------------


def typical_values(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return (n, d): for each row, the median of each signal over the rows of its group.

    Meant for the drivers' course context: call it once over the whole scored population
    (groups = course ids) and pass slices of the result to ``explain``.
    """
    X = _check_matrix(X)
    if X.shape[0] == 0:
        return X.copy()
    frame = pd.DataFrame(X)
    return frame.groupby(np.asarray(groups)).transform("median").to_numpy(dtype=np.float64)


def _drivers(
    points: np.ndarray,
    X: np.ndarray,
    top: int,
    typical: np.ndarray | None,
    reference: np.ndarray,
) -> list[list[Driver]]:
    """Return, per row, the ``top`` signals by |points| (rounded non-zero) as Drivers."""
    n, d = points.shape
    if n == 0 or top <= 0:
        return [[] for _ in range(n)]
    k = min(top, d)
    size = np.abs(points)
    for j, (name, least) in _APPLIES_IF:
        size[X[:, SIGNAL_INDEX[name]] < least, j] = -1.0  # does not apply: never a driver
    order = np.argsort(-size, axis=1, kind="stable")[:, :k]
    picked = np.round(np.take_along_axis(points, order, axis=1), 2)
    picked[np.take_along_axis(size, order, axis=1) < 0] = 0.0
    scope = COURSE_SCOPE if typical is not None else MODEL_SCOPE
    values = np.take_along_axis(X, order, axis=1).tolist()
    typicals = (
        np.take_along_axis(typical, order, axis=1) if typical is not None else reference[order]
    ).tolist()
    out: list[list[Driver]] = []
    for i, (cols, points_i, values_i, typicals_i) in enumerate(
        zip(order.tolist(), picked.tolist(), values, typicals, strict=True)
    ):
        drivers = []
        for j, pts, value, typ in zip(cols, points_i, values_i, typicals_i, strict=True):
            if pts == 0.0:
                continue
            others = tuple((f, float(X[i, c])) for f, c in _MENTIONS[j])
            text = sentence(SIGNAL_NAMES[j], value, typ, scope, others)
            drivers.append(Driver(SIGNAL_NAMES[j], pts, value, typ, text))
        out.append(drivers)
    return out


def _check_matrix(X: np.ndarray) -> np.ndarray:
    """Return X as float64, rejecting a column count that does not match the catalogue."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(SIGNAL_NAMES):
        raise ValueError(f"expected (n, {len(SIGNAL_NAMES)}) signals, got {X.shape}")
    return X


def _rescaled(
    margin_points: np.ndarray, m_x: np.ndarray, m_r: float, p_x: np.ndarray, p_r: float
) -> np.ndarray:
    """Return log-odds contributions rescaled to probability points that sum to p_x - p_r.

    One non-negative factor per row, (p_x - p_r) / (m_x - m_r): the calibration is
    non-decreasing, so every contribution keeps its sign. Rows whose margin equals the
    reference's get the factor 0 (their margin contributions already sum to zero).
    """
    dm = m_x - m_r
    factor = np.zeros_like(dm)
    np.divide(p_x - p_r, dm, out=factor, where=np.abs(dm) > 1e-12)
    return 100.0 * margin_points * np.maximum(factor, 0.0)[:, None]


class RiskModel:
    """A drop-off classifier chosen by honest validation, calibrated on the latest cut-off."""

    def __init__(self) -> None:
        self.signal_names: tuple[str, ...] = SIGNAL_NAMES
        self.candidate: str | None = None
        self.estimator: BaseEstimator | None = None
        self.calibrator: IsotonicRegression | LogisticRegression | None = None
        self.calibration_method: str | None = None
        self.reference: np.ndarray | None = None  # training medians, the "typical learner"
        self._boxes: _LeafBoxes | None = None
        self.metrics: dict[str, Any] = {}

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        *,
        seed: int = 0,
        sample_weight: np.ndarray | None = None,
        candidates: tuple[str, ...] = CANDIDATES,
        n_splits: int = 5,
        times: np.ndarray | None = None,
        gap_days: int = 0,
    ) -> RiskModel:
        """Choose, refit and calibrate the best candidate; return self with ``metrics`` filled.

        ``groups`` are the rows' courses, ``times`` their cut-off dates (ordinals) and
        ``gap_days`` the label horizon: see ``validation_plan`` for the split they allow. Each
        candidate is scored by its weighted ROC AUC on the held-out rows; the winner is refit
        on every row (by course) or kept as fitted for the latest validated cut-off (by time),
        and a calibrator (isotonic, or Platt below ISOTONIC_MIN_EXAMPLES) is fit on its
        held-out predictions at the latest cut-off. ``metrics["roc_auc"]`` is the
        held-out figure, ``metrics["validation_split"]`` says which split gave it.
        """
        with threadpool_limits(limits=FIT_THREADS):
            return self._fit(
                X,
                y,
                groups,
                seed=seed,
                sample_weight=sample_weight,
                candidates=candidates,
                n_splits=n_splits,
                times=times,
                gap_days=gap_days,
            )

    def _fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        *,
        seed: int,
        sample_weight: np.ndarray | None,
        candidates: tuple[str, ...],
        n_splits: int,
        times: np.ndarray | None,
        gap_days: int,
    ) -> RiskModel:
        started = time.perf_counter()
        X = _check_matrix(X)
        y = np.asarray(y).astype(np.int64)
        groups = np.asarray(groups)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        plan = validation_plan(
            y, groups, times=times, gap_days=gap_days, n_splits=n_splits, seed=seed
        )
        held = np.unique(np.concatenate([va for _, va in plan.folds]))

        held_out: dict[str, np.ndarray] = {}
        latest_fold: dict[str, BaseEstimator] = {}
        scores: dict[str, float] = {}
        for name in candidates:
            pred = np.full(len(y), np.nan)
            for k, (tr, va) in enumerate(plan.folds):
                est = _make_candidate(name, seed)
                est.fit(X[tr], y[tr], **_weight_kwargs(est, w, tr))
                pred[va] = est.predict_proba(X[va])[:, 1]
                if k == 0:
                    latest_fold[name] = est
            held_out[name] = pred
            scores[name] = evaluate(y[held], pred[held], sample_weight=w[held])["roc_auc"]

        chosen = candidates[0]
        for name in candidates[1:]:
            if scores[name] > scores[chosen] + SIMPLICITY_MARGIN:
                chosen = name
        self.candidate = chosen
        if plan.split == "time":
            # The model that scores is the one validated on the latest cut-off: fitted on the
            # cut-offs whose outcomes were known by then. Refit on every row, it would have
            # seen the latest stage already and its calibration would shift it twice.
            self.estimator = latest_fold[chosen]
            trained_on = int(plan.folds[0][0].size)
        else:
            self.estimator = _make_candidate(chosen, seed)
            self.estimator.fit(X, y, **_weight_kwargs(self.estimator, w, np.arange(len(y))))
            trained_on = len(y)

        cal = plan.calibration_rows
        self._fit_calibrator(held_out[chosen][cal], y[cal], w[cal])
        self.reference = np.median(X, axis=0)
        if isinstance(self.estimator, HistGradientBoostingClassifier):
            self._boxes = _leaf_boxes(self.estimator, self.reference)

        validation = evaluate(
            y[held], self._calibrate(held_out[chosen][held]), sample_weight=w[held]
        )
        self.metrics = {
            "candidate": chosen,
            "validation_split": plan.split,
            "validation_scheme": plan.description,
            "validation_cutoffs": [_day(t) for t in plan.validated_times],
            "validated_examples": int(held.size),
            "candidate_roc_auc": scores,
            "roc_auc": validation["roc_auc"],
            "pr_auc": validation["pr_auc"],
            "brier": validation["brier"],
            "precision_at_10pct": validation["precision_at_10pct"],
            "calibration": validation["calibration"],
            "calibration_method": self.calibration_method,
            "calibrated_on": plan.calibration_source,
            "calibration_examples": int(cal.size),
            "monotone_signals": int(np.count_nonzero(DIRECTIONS)),
            "n_examples": len(y),
            "trained_examples": trained_on,
            "n_groups": len(np.unique(groups)),
            "positive_rate": float(np.average(y, weights=w)),
            "fit_seconds": round(time.perf_counter() - started, 2),
        }
        return self

    def _fit_calibrator(self, raw: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Fit the map from raw to calibrated probabilities on held-out predictions."""
        if len(y) < ISOTONIC_MIN_EXAMPLES:
            platt = LogisticRegression(C=1e6, max_iter=1000)
            platt.fit(_logit(raw)[:, None], y, sample_weight=w)
            if platt.coef_[0, 0] > 0:  # a non-increasing map would flip every driver's sign
                self.calibration_method, self.calibrator = "sigmoid", platt
                return
        self.calibration_method = "isotonic"
        self.calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.calibrator.fit(raw, y, sample_weight=w)

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw classifier probabilities to calibrated ones (non-decreasing)."""
        if isinstance(self.calibrator, IsotonicRegression):
            p = self.calibrator.predict(raw) + _TIE_BREAK * (raw - 0.5)
        elif self.calibrator is not None:
            p = self.calibrator.predict_proba(_logit(raw)[:, None])[:, 1]
        else:
            raise RuntimeError("RiskModel is not fitted")
        return np.clip(p, 0.0, 1.0)

    def _margin(self, X: np.ndarray) -> np.ndarray:
        """Return the estimator's log-odds (its raw output) per row."""
        if self.estimator is None:
            raise RuntimeError("RiskModel is not fitted")
        return np.asarray(self.estimator.decision_function(X), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return each row's calibrated drop-off probability in [0, 1], shape (n,)."""
        X = _check_matrix(X)
        if X.shape[0] == 0:
            return np.zeros(0)
        return self._calibrate(_expit(self._margin(X)))

    def _margin_points(self, X: np.ndarray) -> np.ndarray:
        """Return (n, d) exact log-odds contributions against the reference."""
        if self._boxes is not None:
            return _tree_points(self._boxes, X)
        if isinstance(self.estimator, Pipeline):
            *prep, logistic = [step for _, step in self.estimator.steps]
            z, zr = X, self.reference[None, :]
            for step in prep:
                z, zr = step.transform(z), step.transform(zr)
            return logistic.coef_[0][None, :] * (np.asarray(z) - np.asarray(zr))
        raise RuntimeError(f"no exact attribution for {type(self.estimator).__name__}")

    def contributions(self, X: np.ndarray) -> Contributions:
        """Return the exact split of each row's score into the base value and signal points.

        ``base + points.sum(axis=1)`` equals ``100 * predict_proba(X)`` (to float rounding).
        """
        X = _check_matrix(X)
        if self.reference is None:
            raise RuntimeError("RiskModel is not fitted")
        ref = self.reference[None, :]
        p_r = float(self.predict_proba(ref)[0])
        if X.shape[0] == 0:
            return Contributions(100.0 * p_r, np.zeros((0, X.shape[1])))
        m_x, m_r = self._margin(X), float(self._margin(ref)[0])
        with threadpool_limits(limits=FIT_THREADS):
            margin_points = self._margin_points(X)
        points = _rescaled(margin_points, m_x, m_r, self.predict_proba(X), p_r)
        return Contributions(100.0 * p_r, points)

    def explain(
        self, X: np.ndarray, top: int = 5, *, typical: np.ndarray | None = None
    ) -> list[list[Driver]]:
        """Return each row's top drivers, largest |points| first, each with its sentence.

        Points are the exact ``contributions``. ``typical`` (n, d), e.g. from
        ``typical_values`` over the scored population by course, gives each sentence its
        course context ("the course's typical gap is 3 days"); without it the comparison is
        with the model's typical learner.
        """
        X = _check_matrix(X)
        if top <= 0 or X.shape[0] == 0:
            return [[] for _ in range(X.shape[0])]
        return _drivers(self.contributions(X).points, X, top, typical, self.reference)

    def to_bytes(self) -> bytes:
        """Return the fitted model serialised with joblib (load with ``RiskModel.from_bytes``)."""
        buf = io.BytesIO()
        joblib.dump(self, buf, compress=3)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RiskModel:
        """Return the model serialised by ``to_bytes``; refuse one built for other signals."""
        model = joblib.load(io.BytesIO(data))
        if not isinstance(model, cls):
            raise TypeError(f"expected a serialised {cls.__name__}, got {type(model).__name__}")
        if tuple(model.signal_names) != SIGNAL_NAMES:
            raise ValueError("model was trained on a different signal catalogue; retrain it")
        return model


def _weight_kwargs(est: BaseEstimator, w: np.ndarray | None, rows: np.ndarray) -> dict[str, Any]:
    """Return the fit kwargs that pass sample weights to ``est`` (pipelines need a prefix)."""
    if w is None:
        return {}
    if hasattr(est, "steps"):
        return {f"{est.steps[-1][0]}__sample_weight": w[rows]}
    return {"sample_weight": w[rows]}


def _expit(z: np.ndarray) -> np.ndarray:
    """Return 1 / (1 + exp(-z))."""
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    """Return log(p / (1 - p)) with p clipped away from 0 and 1."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class BaselineRiskModel:
    """A transparent hand-weighted logistic score, used until a RiskModel has been trained.

    log-odds = INTERCEPT + sum of WEIGHTS[signal] * transform(signal), where recency enters as
    log1p(days), the trend as log(ratio) clipped to +/-3, and unknown progress counts as the
    reference value 0.5. Its contributions are exact: each weight x (transform(value) -
    transform(reference)), rescaled into points like the RiskModel's.
    """

    # Set by judgment, then sanity-checked (not fitted) on the KDD Cup 2015 open courses, where
    # it ranks about as well as recency alone (per-course ROC AUC ~0.80).
    INTERCEPT = -1.0
    WEIGHTS: dict[str, float] = {
        "recency_days": 1.0,  # per log1p(day): 0 days -> 0, 6 days -> +1.9, 29 days -> +3.4
        "active_days_14d": -0.5,  # per active day in the last two weeks
        "trend_ratio_7v21": -0.1,  # per unit of log(ratio): halving activity adds +0.07
        "progress": -1.5,  # per share of lessons completed
    }
    # The "typical engaged learner" explanations are measured against.
    REFERENCE: dict[str, float] = {
        "recency_days": 1.0,
        "active_days_14d": 4.0,
        "trend_ratio_7v21": 1.0,
        "progress": 0.5,
    }
    candidate = "baseline"

    def __init__(self) -> None:
        self.metrics: dict[str, Any] = {"candidate": "baseline"}
        self.reference = np.zeros(len(SIGNAL_NAMES))
        for name, value in self.REFERENCE.items():
            self.reference[SIGNAL_INDEX[name]] = value

    def _terms(self, X: np.ndarray) -> np.ndarray:
        """Return (n, d) log-odds terms: WEIGHTS x transform per weighted signal, 0 elsewhere."""
        terms = np.zeros_like(X)
        col = {name: X[:, SIGNAL_INDEX[name]] for name in self.WEIGHTS}
        # Unknown progress (MISSING) counts as the reference, so it neither raises nor lowers risk.
        progress = np.where(col["progress"] >= 0, col["progress"], self.REFERENCE["progress"])
        transformed = {
            "recency_days": np.log1p(np.maximum(col["recency_days"], 0.0)),
            "active_days_14d": col["active_days_14d"],
            "trend_ratio_7v21": np.clip(
                np.log(np.maximum(col["trend_ratio_7v21"], 1e-9)), -3.0, 3.0
            ),
            "progress": progress,
        }
        for name, weight in self.WEIGHTS.items():
            terms[:, SIGNAL_INDEX[name]] = weight * transformed[name]
        return terms

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return each row's drop-off probability in [0, 1] from the hand-set weights."""
        X = _check_matrix(X)
        return _expit(self.INTERCEPT + self._terms(X).sum(axis=1))

    def contributions(self, X: np.ndarray) -> Contributions:
        """Return the exact split of each row's score against the typical engaged learner."""
        X = _check_matrix(X)
        ref_terms = self._terms(self.reference[None, :])
        p_r = float(_expit(self.INTERCEPT + ref_terms.sum()))
        terms = self._terms(X)
        m_x = self.INTERCEPT + terms.sum(axis=1)
        points = _rescaled(
            terms - ref_terms, m_x, self.INTERCEPT + float(ref_terms.sum()), _expit(m_x), p_r
        )
        return Contributions(100.0 * p_r, points)

    def explain(
        self, X: np.ndarray, top: int = 5, *, typical: np.ndarray | None = None
    ) -> list[list[Driver]]:
        """Return each row's top drivers against the typical engaged learner, with sentences."""
        X = _check_matrix(X)
        if top <= 0 or X.shape[0] == 0:
            return [[] for _ in range(X.shape[0])]
        return _drivers(self.contributions(X).points, X, top, typical, self.reference)
