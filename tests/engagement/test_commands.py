"""Management commands: score_risk, export_scores, train_risk_model, evaluate_risk_model."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from engagement.models import EngagementScore, RiskModelVersion, ScoringRun
from tests.engagement.history import AS_OF, make_history

pytestmark = pytest.mark.django_db


def run(*args: str, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_score_then_export_csv() -> None:
    history = make_history(n=12)
    text = run("score_risk", "--as-of", AS_OF.isoformat())
    assert f"{len(history.active_ids)} learners scored" in text
    earlier = AS_OF - datetime.timedelta(days=5)
    # History is kept: a second run, for an earlier date, finished last but is not current.
    run("score_risk", "--as-of", earlier.isoformat())

    rows = list(csv.reader(io.StringIO(run("export_scores", "--format", "csv"))))
    assert rows[0] == [
        "user",
        "drop_off_risk",
        "weekly_risk",
        "monthly_risk",
        "confidence",
        "level",
        "scored_at",
    ]
    current = ScoringRun.objects.get(as_of=AS_OF)
    stored = {s.user.external_id: s for s in EngagementScore.objects.filter(run=current)}
    assert len(rows) - 1 == len(stored)
    for user, risk, weekly, monthly, conf, level, scored_at in rows[1:]:
        s = stored[user]
        assert (int(risk), int(weekly), int(monthly), int(conf), level) == (
            s.drop_off_risk,
            s.weekly_risk,
            s.monthly_risk,
            s.confidence,
            s.level,
        )
        assert datetime.datetime.fromisoformat(scored_at) == s.scored_at

    picked = list(csv.reader(io.StringIO(run("export_scores", "--as-of", earlier.isoformat()))))
    older = {s.user.external_id: s for s in EngagementScore.objects.filter(as_of=earlier)}
    assert len(picked) - 1 == len(older)
    assert all(int(row[1]) == older[row[0]].drop_off_risk for row in picked[1:])


def test_export_without_run_fails_clearly() -> None:
    with pytest.raises(CommandError, match="No finished scoring run"):
        run("export_scores")


def test_train_command_and_its_error() -> None:
    with pytest.raises(CommandError, match="as_of"):
        run("train_risk_model", "--as-of", AS_OF.isoformat())
    make_history(n=120, seed=3)
    text = run("train_risk_model", "--as-of", AS_OF.isoformat(), "--horizon-days", "10")
    assert "risk model v1" in text and "ROC AUC" in text
    assert RiskModelVersion.objects.get().is_active


def test_evaluate_prints_metrics_and_lead_time() -> None:
    make_history(n=120, seed=4)
    text = run("evaluate_risk_model", "--as-of", AS_OF.isoformat())
    for needle in ("ROC AUC", "PR AUC", "Brier", "calibration", "top 10 %", "lead time"):
        assert needle in text
