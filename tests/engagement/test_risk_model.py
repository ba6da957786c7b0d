"""RiskModel and BaselineRiskModel on small synthetic data whose label is learnable.

What a user of the scores would notice: held-out courses ranked well; the validation figure
comes from rows the model never saw (courses, or later cut-offs); scores add up exactly from
their drivers; more inactivity never lowers the risk, and no driver says it did.
"""

from __future__ import annotations

import datetime
import io

import joblib
import numpy as np
import pytest

from engagement.scoring.activity import KINDS, LearnerActivity
from engagement.scoring.evaluation import evaluate, lead_time
from engagement.scoring.model import (
    BaselineRiskModel,
    Driver,
    RiskModel,
    typical_values,
    validation_plan,
)
from engagement.scoring.signals import (
    SIGNAL_DIRECTIONS,
    SIGNAL_INDEX,
    SIGNAL_NAMES,
    compute_signals,
)

W = 28
N_COHORTS = 12
DAY0 = datetime.date(2025, 1, 31).toordinal()


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
    a.enrolment_age[:] = W
    a.cohort[:] = rng.integers(0, N_COHORTS, n)
    y = (~future.any(axis=1)).astype(np.int64)
    return compute_signals(a), y, a.cohort.copy()


def weekly(n_weeks: int, per_week: int, seed: int) -> tuple[np.ndarray, ...]:
    """Return X, y, courses (two) and cut-off ordinals of ``n_weeks`` weekly cut-offs."""
    parts = [synthetic(per_week, seed + k) for k in range(n_weeks)]
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    courses = np.concatenate([p[2] % 2 for p in parts])
    times = np.repeat(DAY0 + 7 * np.arange(n_weeks), per_week)
    return X, y, courses, times


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return synthetic(3000, seed=7)


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> RiskModel:
    X, y, cohort = data
    train = cohort < 8
    return RiskModel().fit(X[train], y[train], cohort[train], seed=0)


@pytest.fixture(scope="module", params=["logistic", "hist_gbm"])
def each_candidate(request, data) -> RiskModel:
    """One fitted model per candidate, so every property is checked for both."""
    X, y, cohort = data
    model = RiskModel().fit(X, y, cohort, candidates=(request.param,))
    assert model.candidate == request.param
    return model


def inactive_learner() -> np.ndarray:
    """Return the signals of a learner busy for three weeks and silent for the last five."""
    a = LearnerActivity.empty(1, as_of=datetime.date(2025, 3, 2), window_days=56)
    a.daily[0, :21, KINDS.index("events")] = 4
    a.daily[0, :21, KINDS.index("lessons_completed")] = 1
    a.days_since_first[0], a.days_since_last[0] = 55, 35
    a.enrolment_age[0] = 60
    return compute_signals(a)


def test_fit_records_metrics(fitted: RiskModel) -> None:
    m = fitted.metrics
    assert m["candidate"] in {"logistic", "hist_gbm"}
    assert set(m["candidate_roc_auc"]) == {"logistic", "hist_gbm"}
    assert m["validation_split"] == "course" and m["validation_scheme"].startswith("by course")
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


def test_with_fewer_than_three_courses_later_cut_offs_validate_out_of_time() -> None:
    X, y, courses, times = weekly(n_weeks=5, per_week=400, seed=1)

    plan = validation_plan(y, courses, times=times, gap_days=10)

    assert plan.split == "time" and plan.description.startswith("by time")
    latest = times.max()
    validated = [int(np.unique(times[va])[0]) for _, va in plan.folds]
    assert validated == [latest, latest - 7, latest - 14]  # the three latest, newest first
    for tr, va in plan.folds:
        t = int(np.unique(times[va])[0])
        # Trained only on cut-offs whose 10-day outcome windows had closed by the validated one.
        assert times[tr].max() <= t - 10 and len(np.unique(times[va])) == 1
    assert (times[plan.calibration_rows] == latest).all()

    model = RiskModel().fit(X, y, courses, times=times, gap_days=10)
    m = model.metrics
    assert m["validation_split"] == "time"
    assert m["validation_cutoffs"] == [
        datetime.date.fromordinal(int(t)).isoformat() for t in sorted(validated)
    ]
    assert m["validated_examples"] == 3 * 400 < m["n_examples"]
    assert 0.7 < m["roc_auc"] < 1.0
    # Without cut-off dates, two courses give no honest split at all: refused, not faked.
    with pytest.raises(ValueError, match="no honest validation"):
        RiskModel().fit(X, y, courses)


def test_too_short_a_history_for_a_time_split_is_refused() -> None:
    X, y, courses, times = weekly(n_weeks=2, per_week=300, seed=2)  # one week apart, H = 10
    with pytest.raises(ValueError, match="need a longer history"):
        RiskModel().fit(X, y, courses, times=times, gap_days=10)


def test_calibrated_on_the_latest_cut_off() -> None:
    # The latest cut-off drops off more often than earlier ones (the course's end nears) for
    # the same behaviour: a model calibrated on every cut-off would under-predict it.
    X, y, courses, times = weekly(n_weeks=5, per_week=1500, seed=3)
    rng = np.random.default_rng(0)
    latest = times == times.max()
    y = y.copy()
    y[latest & (rng.random(len(y)) < 0.5)] = 1
    X_new, y_new, _ = synthetic(3000, seed=99)
    y_new[rng.random(len(y_new)) < 0.5] = 1  # a fresh learner population at the latest stage

    model = RiskModel().fit(X, y, courses, times=times, gap_days=10)

    assert "latest cut-off" in model.metrics["calibrated_on"]
    assert model.metrics["calibration_examples"] == latest.sum()
    assert y[latest].mean() - y.mean() > 0.1
    assert model.predict_proba(X_new).mean() == pytest.approx(y_new.mean(), abs=0.03)


def test_contributions_add_up_to_the_score(each_candidate: RiskModel, data) -> None:
    X, _, _ = data
    split = each_candidate.contributions(X[:300])
    p = each_candidate.predict_proba(X[:300])
    assert split.points.shape == (300, len(SIGNAL_NAMES))
    assert np.allclose(split.base + split.points.sum(axis=1), 100.0 * p, atol=1e-6)
    # The reference, the model's typical learner, has the base risk and no driver at all.
    reference = each_candidate.reference[None, :]
    assert split.base == pytest.approx(100.0 * each_candidate.predict_proba(reference)[0])
    assert np.abs(each_candidate.contributions(reference).points).max() < 1e-9


def test_known_directions_are_respected(each_candidate: RiskModel, data) -> None:
    X, _, _ = data
    rows = X[:60].copy()
    for name, values in (
        ("recency_days", [0, 1, 2, 4, 7, 12, 20, 40, 365]),
        ("active_days_14d", [0, 1, 2, 4, 7, 10, 14]),
        ("active_weeks_4w", [0, 1, 2, 3, 4]),
        ("events_7d", [0, 1, 3, 10, 40]),
    ):
        j = SIGNAL_INDEX[name]
        risks = []
        for v in values:
            moved = rows.copy()
            moved[:, j] = v
            risks.append(each_candidate.predict_proba(moved))
        steps = np.diff(np.array(risks), axis=0) * SIGNAL_DIRECTIONS[j]
        assert (steps >= -1e-9).all(), name  # raising a "raises" signal never lowers risk


def test_inactivity_never_lowers_the_risk_of_an_inactive_learner(each_candidate: RiskModel) -> None:
    # The old linear drivers said "weeks of the last 4 with activity = 0" lowered risk by 16
    # points. With the directions constrained and exact contributions, it cannot happen.
    x = inactive_learner()
    points = each_candidate.contributions(x).points[0]
    ref = each_candidate.reference
    for j, d in enumerate(SIGNAL_DIRECTIONS):
        if d:
            assert points[j] * d * np.sign(x[0, j] - ref[j]) >= -1e-9, SIGNAL_NAMES[j]
    assert points[SIGNAL_INDEX["active_weeks_4w"]] >= 0
    assert points[SIGNAL_INDEX["recency_days"]] > 0
    drivers = each_candidate.explain(x, top=10)[0]
    inactivity = {"recency_days", "current_gap_days", "active_weeks_4w"} | {
        n for n in SIGNAL_NAMES if n.startswith(("active_days_", "events_"))
    }
    assert not [d for d in drivers if d.signal in inactivity and d.points < 0]
    # A trend or a weekday share of no activity at all says nothing: never shown as a driver.
    shown = {d.signal for d in drivers}
    assert not shown & {"trend_ratio_7v21", "active_days_trend_7v21", "events_per_active_day_28d"}
    recency = next(d for d in drivers if d.signal == "recency_days")
    assert recency.text.startswith("No activity for 35 days (a typical gap is ")


def test_explain_gives_ranked_drivers_with_sentences(fitted: RiskModel, data) -> None:
    X, _, cohort = data
    drivers = fitted.explain(X[:200], top=5, typical=typical_values(X, cohort)[:200])
    assert len(drivers) == 200
    for row in drivers:
        assert len(row) <= 5
        assert all(isinstance(d, Driver) and d.signal in SIGNAL_NAMES for d in row)
        assert all(d.text and "_" not in d.text for d in row)
        sizes = [abs(d.points) for d in row]
        assert sizes == sorted(sizes, reverse=True)
    # A driver still unpacks as the (signal, points) pair it used to be.
    name, points = drivers[0][0]
    assert (name, points) == (drivers[0][0].signal, drivers[0][0].points)
    # With the course context, a sentence compares with the course, not a generic learner.
    assert any("the course's" in d.text for row in drivers for d in row)
    # The riskiest learner's risk is above the typical learner's, so drivers must push it up.
    riskiest = int(np.argmax(fitted.predict_proba(X[:200])))
    assert sum(d.points for d in drivers[riskiest]) > 0
    assert fitted.explain(X[:0]) == []


def test_typical_values_are_the_course_medians() -> None:
    X = np.zeros((5, len(SIGNAL_NAMES)))
    X[:, 0] = [1, 3, 8, 10, 20]
    typical = typical_values(X, np.array([1, 1, 1, 2, 2]))
    assert typical[:, 0].tolist() == [3, 3, 3, 15, 15]


def test_serialisation_round_trip(fitted: RiskModel, data) -> None:
    X, _, _ = data
    again = RiskModel.from_bytes(fitted.to_bytes())
    assert np.allclose(again.predict_proba(X), fitted.predict_proba(X), rtol=0, atol=1e-12)
    assert again.explain(X[:3]) == fitted.explain(X[:3])
    assert again.metrics == fitted.metrics


def test_from_bytes_rejects_other_objects() -> None:
    buf = io.BytesIO()
    joblib.dump({"not": "a model"}, buf)
    with pytest.raises(TypeError):
        RiskModel.from_bytes(buf.getvalue())


def test_rejects_wrong_signal_count(fitted: RiskModel) -> None:
    with pytest.raises(ValueError):
        fitted.predict_proba(np.zeros((2, 3)))


def test_baseline_is_monotone_and_its_contributions_add_up(data) -> None:
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
    split = baseline.contributions(X[:50])
    assert np.allclose(
        split.base + split.points.sum(axis=1), 100 * baseline.predict_proba(X[:50]), atol=1e-9
    )
    drivers = baseline.explain(X[:5])
    assert all(d.signal in BaselineRiskModel.WEIGHTS and d.text for row in drivers for d in row)
    gone = baseline.explain(inactive_learner())[0]
    assert gone[0].signal == "recency_days" and gone[0].points > 0


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
