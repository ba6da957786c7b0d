"""The no-show model's core on generated histories: the baseline's formula, and the trained
model replacing it only where the history holds a signal the baseline misses."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from analytics import no_show_model as core

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _reg(
    pk: int,
    user: int,
    session: int,
    *,
    day: float,
    hour: int = 10,
    lead: float = 2,
    attended: bool | None = None,
    status: str = "registered",
) -> core.Registration:
    starts = T0 + timedelta(days=day, hours=hour)
    return core.Registration(
        registration_id=pk,
        user_id=user,
        session_id=session,
        starts_at=starts,
        registered_at=starts - timedelta(days=lead),
        status=status,
        attended=attended,
        rescheduled_from=False,
        local_hour=hour,
    )


def test_baseline_is_the_weighted_score_of_the_smoothed_history():
    history = [
        _reg(1, 7, 1, day=0, attended=False),
        _reg(2, 7, 2, day=1, attended=True),
        _reg(3, 7, 3, day=2, status="rescheduled"),
        _reg(4, 7, 4, day=3, attended=False),
    ]
    target = _reg(5, 7, 5, day=4)

    features = core.features_of(target, history, drop_off_risk=0.8)

    # 2 of 3 outcomes missed, 1 of 4 moved, 1 of 4 kept; each smoothed by 2 at the prior.
    no_show = (2 + 2 * 0.3) / (3 + 2)
    reschedule = (1 + 2 * 0.1) / (4 + 2)
    unreliability = 1 - (1 + 2 * 0.6) / (4 + 2)
    expected = 0.4 * no_show + 0.2 * reschedule + 0.2 * unreliability + 0.2 * 0.8
    assert core.baseline_probability(features.values) == pytest.approx(expected)
    reasons = core.reasons_of(features, core.baseline_contributions(features.values))
    assert reasons[0] == "missed 2 of 3 earlier sessions"
    assert "drop-off risk 80%" in reasons


def test_a_newcomer_gets_the_priors_and_says_so():
    features = core.features_of(_reg(1, 1, 1, day=0), [], drop_off_risk=None)

    expected = 0.4 * 0.3 + 0.2 * 0.1 + 0.2 * 0.4 + 0.2 * core.UNKNOWN_DROP_OFF_RISK
    assert core.baseline_probability(features.values) == pytest.approx(expected)
    reasons = core.reasons_of(features, core.baseline_contributions(features.values))
    assert reasons == ["no attendance history yet"]
    steady = core.features_of(
        _reg(9, 1, 9, day=5), [_reg(i, 1, i, day=i, attended=True) for i in range(1, 5)], 0.2
    )
    assert core.reasons_of(steady, core.baseline_contributions(steady.values)) == [
        "no risk factor stands out"
    ]


def _history(n_users: int, n_sessions: int, per_session: int, p_miss, seed: int = 1):
    """Registrations of `n_sessions` daily sessions (alternately 10:00 and 19:00) with
    random registrants and lead times; each missed with probability p_miss(evening, lead)."""
    rnd = random.Random(seed)
    regs = []
    for session in range(n_sessions):
        hour = 19 if session % 2 else 10
        for user in rnd.sample(range(n_users), per_session):
            lead = rnd.uniform(0, 20)
            missed = rnd.random() < p_miss(hour >= 18, lead)
            regs.append(
                _reg(
                    len(regs) + 1,
                    user,
                    session,
                    day=session,
                    hour=hour,
                    lead=lead,
                    attended=not missed,
                )
            )
    features = core.features_history(regs, {})
    return [(r.session_id, r.starts_at, features[r.registration_id], not r.attended) for r in regs]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_a_model_on_planted_features_beats_the_baseline_on_held_out_sessions():
    rows = _history(120, 60, 10, lambda evening, lead: _sigmoid(-2.5 + 2.2 * evening + 0.12 * lead))

    result = core.model_train(rows)

    assert result.n_outcomes == 600 and result.n_no_shows >= core.MIN_NO_SHOWS
    assert result.n_holdout >= 0.25 * 600 and result.n_train + result.n_holdout == 600
    assert result.beats_baseline
    assert result.model.auc > result.baseline.auc + core.MIN_AUC_GAIN
    assert result.model.log_loss < result.baseline.log_loss
    # The planted inputs carry the weight: evening raises the odds, and so does lead time.
    assert result.coefficients["evening"] > 1
    assert result.coefficients["lead_days"] > 0
    probabilities = core.model_predict(result.fitted, [rows[0][2], rows[1][2]])
    assert all(0 < p < 1 for p in probabilities)


def test_a_history_without_signal_keeps_the_baseline():
    rows = _history(150, 100, 12, lambda evening, lead: 0.3, seed=3)

    result = core.model_train(rows)

    assert result.n_outcomes == 1200
    assert not result.beats_baseline
    assert "baseline stays" in result.note


def test_too_little_history_is_not_trained_on():
    rows = _history(40, 19, 10, lambda evening, lead: 0.5)

    result = core.model_train(rows)

    assert result.n_outcomes == 190 < core.MIN_OUTCOMES
    assert not result.beats_baseline and result.fitted is None
    assert result.note.startswith("Not enough history: 190 outcomes")
