"""Training from Stride's own history: examples, validation, versioning, and ranking quality."""

from __future__ import annotations

import datetime
import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import DomainValidationError
from engagement.models import EngagementScore, RiskModelVersion
from engagement.services.scoring import scoring_run_start
from engagement.services.training import risk_model_train, training_cutoffs
from tests.engagement.history import AS_OF, make_history

pytestmark = pytest.mark.django_db


def test_cutoffs_step_back_while_there_is_history() -> None:
    as_of = datetime.date(2026, 3, 31)
    cutoffs = training_cutoffs(as_of=as_of, horizon_days=10, first_day=datetime.date(2026, 3, 1))
    assert cutoffs[0] == datetime.date(2026, 3, 21)  # label window ends on as_of
    assert [(a - b).days for a, b in itertools.pairwise(cutoffs)] == [3, 4, 3]
    assert all((c - datetime.date(2026, 3, 1)).days >= 7 for c in cutoffs)
    assert training_cutoffs(as_of=as_of, horizon_days=10, first_day=as_of) == []


def test_too_little_history_names_as_of() -> None:
    make_history(n=4)
    with pytest.raises(DomainValidationError) as exc:
        risk_model_train(as_of=AS_OF, horizon_days=10)
    assert "as_of" in exc.value.fields
    assert not RiskModelVersion.objects.exists()


def test_train_then_score_ranks_fading_above_steady() -> None:
    history = make_history(n=300, seed=1)
    first = risk_model_train(as_of=AS_OF, horizon_days=10)
    assert first.version == 1 and first.is_active and first.horizon_days == 10
    assert first.examples > 300 and len(first.metrics["cutoffs"]) >= 3
    for key in ("roc_auc", "pr_auc", "brier", "calibration"):
        assert key in first.metrics
    assert first.metrics["roc_auc"] > 0.7

    second = risk_model_train(as_of=AS_OF, horizon_days=10)
    first.refresh_from_db()
    assert second.version == 2 and second.is_active and not first.is_active

    run = scoring_run_start(as_of=AS_OF, execute_now=True)
    assert run.model_version_id == second.pk
    risk = dict(EngagementScore.objects.filter(run=run).values_list("user_id", "drop_off_risk"))
    ids = [u for u in history.active_ids if u in risk]
    y = np.array([u in set(history.fading_ids) for u in ids])
    assert roc_auc_score(y, [risk[u] for u in ids]) > 0.8
