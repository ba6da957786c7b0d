"""RiskModel and BaselineRiskModel on small synthetic data whose label is learnable."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from engagement.scoring.activity import KINDS, LearnerActivity
from engagement.scoring.evaluation import evaluate, lead_time
from engagement.scoring.model import BaselineRiskModel, RiskModel
from engagement.scoring.signals import SIGNAL_INDEX, SIGNAL_NAMES, compute_signals

W = 28
N_COHORTS = 12


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return signals, labels and cohorts for learners who are active until they quit.

    Each learner is active on a day with probability ``rate`` until an unseen quit day, then
    silent; the label is silence over the 10 days after the window, so it is learnable from
    recency and recent activity but not perfectly (a slow learner may just be pausing).
    """
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.15, 0.7, n)
    quit_day = rng.integers(3, W + 30, n)
    days = np.arange(W + 10)
    active = (rng.random((n, W + 10)) < rate[:, None]) & (days[None, :] < quit_day[:, None])
    past, future = active[:, :W], active[:, W:]
    a = LearnerActivity.empty(n, as_of=datetime.date(2025, 1, 31), window_days=W)
    a.daily[:, :, KINDS.index("events")] = past * rng.integers(1, 6, (n, W))
    seen = past.any(axis=1)
    first = np.argmax(past, axis=1)
    last = W - 1 - np.argmax(past[:, ::-1], axis=1)
    a.days_since_first[:] = np.where(seen, W - 1 - first, np.inf)
    a.days_since_last[:] = np.where(seen, W - 1 - last, np.inf)
    a.cohort[:] = rng.integers(0, N_COHORTS, n)
    y = (~future.any(axis=1)).astype(np.int64)
    return compute_signals(a), y, a.cohort.copy()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return synthetic(3000, seed=7)


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> RiskModel:
    X, y, cohort = data
    train = cohort < 8
    return RiskModel().fit(X[train], y[train], cohort[train], seed=0)


def test_fit_records_metrics(fitted: RiskModel) -> None:
    m = fitted.metrics
    assert m["candidate"] in {"logistic", "hist_gbm", "forest"}
    assert set(m["candidate_roc_auc"]) == {"logistic", "hist_gbm", "forest"}
    assert m["validation_scheme"].startswith("group")
    assert m["roc_auc"] > 0.8
    assert 0.0 < m["positive_rate"] < 1.0
    assert m["n_groups"] == 8 and m["n_examples"] > 1000
    assert 0.0 <= m["brier"] < 0.25


def test_held_out_cohorts_are_ranked_well(
    fitted: RiskModel, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X, y, cohort = data
    test = cohort >= 8
    p = fitted.predict_proba(X[test])
    assert p.shape == (test.sum(),)
    assert ((p >= 0) & (p <= 1)).all()
    assert evaluate(y[test], p)["roc_auc"] > 0.8


def test_explain_gives_ranked_named_drivers(
    fitted: RiskModel, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X, _, _ = data
    drivers = fitted.explain(X[:200], top=5)
    assert len(drivers) == 200
    for row in drivers:
        assert len(row) <= 5
        assert all(name in SIGNAL_NAMES for name, _ in row)
        sizes = [abs(points) for _, points in row]
        assert sizes == sorted(sizes, reverse=True)
    # The riskiest learner's risk is above the typical learner's, so drivers must push it up.
    riskiest = int(np.argmax(fitted.predict_proba(X[:200])))
    assert sum(points for _, points in drivers[riskiest]) > 0
    assert fitted.explain(X[:0]) == []


def test_serialisation_round_trip(
    fitted: RiskModel, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    X, _, _ = data
    again = RiskModel.from_bytes(fitted.to_bytes())
    # Tree ensembles sum in parallel, so allow float rounding between two identical models.
    assert np.allclose(again.predict_proba(X), fitted.predict_proba(X), rtol=0, atol=1e-12)
    assert [[n for n, _ in r] for r in again.explain(X[:3])] == [
        [n for n, _ in r] for r in fitted.explain(X[:3])
    ]
    assert again.metrics == fitted.metrics


def test_from_bytes_rejects_other_objects() -> None:
    import io

    import joblib

    buf = io.BytesIO()
    joblib.dump({"not": "a model"}, buf)
    with pytest.raises(TypeError):
        RiskModel.from_bytes(buf.getvalue())


def test_rejects_wrong_signal_count(fitted: RiskModel) -> None:
    with pytest.raises(ValueError):
        fitted.predict_proba(np.zeros((2, 3)))


def test_baseline_is_monotone_in_recency_and_active_days(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, _ = data
    row = np.median(X, axis=0)
    baseline = BaselineRiskModel()

    def risk(**values: float) -> float:
        x = row.copy()
        for name, value in values.items():
            x[SIGNAL_INDEX[name]] = value
        return float(baseline.predict_proba(x[None, :])[0])

    recency = [risk(recency_days=d) for d in (0, 2, 7, 14, 30, 90)]
    assert recency == sorted(recency) and recency[0] < recency[-1]
    active = [risk(active_days_14d=d) for d in (0, 3, 7, 14)]
    assert active == sorted(active, reverse=True) and active[0] > active[-1]
    assert risk(progress=0.9) < risk(progress=0.1)
    assert evaluate(y, baseline.predict_proba(X))["roc_auc"] > 0.7
    drivers = baseline.explain(X[:5])
    assert all(name in BaselineRiskModel.WEIGHTS for row in drivers for name, _ in row)


def test_evaluate_and_lead_time() -> None:
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.8, 0.9, 0.7, 0.3, 0.6, 0.05, 0.95, 0.85])
    result = evaluate(y, p)
    assert result["roc_auc"] == 1.0
    assert result["precision_at_10pct"] == 1.0
    assert sum(row["count"] for row in result["calibration"]) == 10
    assert result["brier"] == pytest.approx(np.mean((p - y) ** 2))
    shares = lead_time(np.array([70, 50, 65, np.nan]), np.array([40, 61, 10, 20]))
    assert shares["share_flagged_3d"] == pytest.approx(2 / 3)
    assert shares["share_flagged_7d"] == pytest.approx(1 / 4)
