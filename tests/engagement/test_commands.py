"""Management commands: score_risk, export_scores, train_risk_model, evaluate_risk_model."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from engagement.models import EngagementScore, RiskModelVersion, ScoringRun
from tests.engagement.history import AS_OF, make_history
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


def run(*args: str, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_score_then_export_csv() -> None:
    history = make_history(n=12)
    # One learner in a second course, never started there: a second row of theirs.
    second = CourseFactory(external_id="second")
    EnrollmentFactory(
        user=User.objects.get(pk=history.active_ids[0]),
        course=second,
        enrolled_at=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC),
    )
    text = run("score_risk", "--as-of", AS_OF.isoformat())
    n = len(history.active_ids)
    assert f"{n + 1} enrolments of {n} learners scored" in text and "1 never started" in text
    earlier = AS_OF - datetime.timedelta(days=5)
    # History is kept: a second run, for an earlier date, finished last but is not current.
    run("score_risk", "--as-of", earlier.isoformat())

    rows = list(csv.reader(io.StringIO(run("export_scores", "--format", "csv"))))
    assert rows[0] == [
        "user",
        "course",
        "never_started",
        "drop_off_risk",
        "weekly_risk",
        "monthly_risk",
        "confidence",
        "level",
        "scored_at",
    ]
    current = ScoringRun.objects.get(as_of=AS_OF)
    stored = {
        (s.user.external_id, s.course.external_id): s
        for s in EngagementScore.objects.filter(run=current).select_related("user", "course")
    }
    assert len(rows) - 1 == len(stored) == n + 1
    for user, course, never, risk, weekly, monthly, conf, level, scored_at in rows[1:]:
        s = stored[user, course]
        assert (never, int(risk), int(weekly), int(monthly), int(conf), level) == (
            "yes" if s.never_started else "no",
            s.drop_off_risk,
            s.weekly_risk,
            s.monthly_risk,
            s.confidence,
            s.level,
        )
        assert datetime.datetime.fromisoformat(scored_at) == s.scored_at
    assert [r[2] for r in rows[1:] if r[1] == "second"] == ["yes"]

    picked = list(csv.reader(io.StringIO(run("export_scores", "--as-of", earlier.isoformat()))))
    older = {
        (s.user.external_id, s.course.external_id): s
        for s in EngagementScore.objects.filter(as_of=earlier).select_related("user", "course")
    }
    assert len(picked) - 1 == len(older)
    assert all(int(row[3]) == older[row[0], row[1]].drop_off_risk for row in picked[1:])


def test_export_per_learner_gives_the_highest_enrolment_and_its_course(scored) -> None:
    rows = list(csv.reader(io.StringIO(run("export_scores", "--per-learner"))))

    assert rows[0] == ["user", "risk", "level", "driving_course", "enrolments", "never_started"]
    assert rows[1:] == [
        ["ext-ada", "92", "critical", "py101", "2", "0"],
        ["ext-ben", "75", "high", "js201", "1", "0"],
        ["ext-cy", "61", "high", "py101", "1", "0"],
        ["ext-dee", "45", "medium", "js201", "1", "0"],
        ["ext-eve", "10", "low", "py101", "1", "0"],
    ]


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
