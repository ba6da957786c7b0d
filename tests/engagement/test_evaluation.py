"""risk_model_evaluate: labels, baselines and lead time on a cut-off the model never trained on."""

from __future__ import annotations

import datetime
import io
import math
import zoneinfo

import pytest
from django.core.management import CommandError, call_command

from core.errors import DomainValidationError
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import EngagementScore, Event, RiskModelVersion, ScoringRun
from engagement.services.evaluation import risk_model_evaluate
from engagement.services.training import risk_model_train
from learning.models import Enrollment
from learning.services import enrollments_upsert
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.engagement.history import AS_OF, make_history
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

HORIZON = 10
CUTOFF = AS_OF - datetime.timedelta(days=HORIZON)


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), datetime.UTC)


def days(first: int, last: int) -> list[datetime.date]:
    """Dates from CUTOFF + first to CUTOFF + last days, inclusive."""
    return [CUTOFF + datetime.timedelta(days=d) for d in range(first, last + 1)]


def learner_active_on(name: str, dates: list[datetime.date], course=None):
    """A learner enrolled in ``course`` (a new one by default) from their first active day."""
    user = UserFactory(external_id=name)
    course = course or CourseFactory()
    first = datetime.datetime.combine(min(dates), datetime.time(), datetime.UTC)
    EnrollmentFactory(user=user, course=course, enrolled_at=first)
    make_events(user, [("login", noon(day)) for day in dates])
    return user


@pytest.fixture
def five_learners() -> dict:
    """Learners whose labels and scores before their last activity can be worked out by hand.

    Each is enrolled in a course from their first active day. Scored by the baseline model
    (nothing trained). sporadic: active 30 and 2 days before the cut-off, gone since (risk ~80
    three and seven days before that last visit: long silent); fading: daily until 4 days
    before the cut-off (low risk while daily); newcomer: enrolled and active the day before the
    cut-off (no score before it); long_gone: last seen 20 days before the cut-off (already
    gone by then: not evaluated); stays: daily until as_of.
    """
    return {
        "sporadic": learner_active_on("sporadic", days(-30, -30) + days(-2, -2)),
        "fading": learner_active_on("fading", days(-30, -4)),
        "newcomer": learner_active_on("newcomer", days(-1, -1)),
        "long_gone": learner_active_on("long_gone", days(-40, -20)),
        "stays": learner_active_on("stays", days(-30, HORIZON)),
    }


def test_labels_baselines_and_lead_time_of_the_baseline_model(five_learners) -> None:
    result = risk_model_evaluate(as_of=AS_OF, horizon_days=HORIZON, active=True)

    assert (result.model, result.model_version, result.trained_as_of) == ("baseline", None, None)
    assert not result.in_sample
    assert (result.cutoff, result.horizon_days) == (CUTOFF, HORIZON)
    # long_gone had been silent for more than the horizon at the cut-off: no prediction to make.
    assert (result.learners, result.already_gone) == (4, 1)
    assert result.positive_rate == pytest.approx(3 / 4)  # all but "stays" dropped off
    # Every drop-out was silent longer at the cut-off than the learner who stayed.
    assert result.recency_rule_roc_auc == 1.0
    assert result.baseline_roc_auc == result.roc_auc  # the baseline is the evaluated model
    assert result.validation is None  # the baseline is not validated
    assert sum(row.count for row in result.calibration) == 4
    lead = result.lead_time
    # sporadic, fading and newcomer dropped off within 14 days of their last activity; the
    # newcomer had no score 3 or 7 days before it; of the other two only sporadic was flagged.
    assert lead.learners == 3
    assert (lead.n_3d, lead.share_flagged_3d) == (2, 0.5)
    assert (lead.n_7d, lead.share_flagged_7d) == (2, 0.5)
    assert lead.threshold == 60
    # Evaluating stores nothing.
    assert not ScoringRun.objects.exists() and not EngagementScore.objects.exists()


def test_withdrawing_from_every_enrolment_after_the_cut_off_counts_as_dropping_off() -> None:
    course = CourseFactory(external_id="py101")
    learner_active_on("stays", days(-30, HORIZON), course=course)
    learner_active_on("withdraws", days(-30, HORIZON), course=course)
    stored = enrollments_upsert(
        items=[
            {
                "user": "withdraws",
                "course": "py101",
                "enrolled_at": noon(CUTOFF - datetime.timedelta(days=30)),
                "status": "withdrawn",
                "withdrawn_at": noon(CUTOFF + datetime.timedelta(days=3)),
            }
        ]
    )
    assert stored.updated == 1

    result = risk_model_evaluate(as_of=AS_OF, horizon_days=HORIZON, active=True)

    assert result.learners == 2
    assert result.positive_rate == pytest.approx(1 / 2)


def test_a_fresh_fit_is_out_of_time_and_its_labels_are_the_learners_real_silence() -> None:
    make_history(n=120, seed=4)

    result = risk_model_evaluate(as_of=AS_OF)

    assert result.model == "fitted" and result.trained_as_of == result.cutoff == CUTOFF
    assert not result.in_sample
    assert not RiskModelVersion.objects.exists()  # the fitted model is not stored
    # The labels, worked out independently: enrolled by the cut-off, active within the
    # horizon before it (local dates; or not yet started), and no activity on any local day
    # after it up to as_of. (One enrolment per learner in this history.)
    seen: dict[int, set[datetime.date]] = {}
    for user_id, tz, at in Event.objects.exclude(type__in=NON_ACTIVITY_TYPES).values_list(
        "user_id", "user__timezone", "occurred_at"
    ):
        seen.setdefault(user_id, set()).add(at.astimezone(zoneinfo.ZoneInfo(tz)).date())
    enrolled = {e.user_id for e in Enrollment.objects.all() if e.enrolled_at.date() <= CUTOFF}
    population = []
    for u in enrolled:
        before = [d for d in seen.get(u, ()) if d <= CUTOFF]
        if not before or (CUTOFF - max(before)).days < HORIZON:
            population.append(u)
    dropped = [u for u in population if not any(CUTOFF < d <= AS_OF for d in seen.get(u, ()))]
    assert result.learners == len(population)
    assert result.positive_rate == pytest.approx(len(dropped) / len(population))
    assert 0 < len(dropped) < len(population)
    assert 0.5 < result.roc_auc <= 1.0 and not math.isnan(result.baseline_roc_auc)
    assert sum(row.count for row in result.calibration) == result.learners
    assert result.lead_time.n_3d <= result.lead_time.learners


def test_an_active_model_trained_after_the_cut_off_is_reported_in_sample() -> None:
    make_history(n=120, seed=4)
    version = risk_model_train(as_of=AS_OF, horizon_days=HORIZON)

    result = risk_model_evaluate(as_of=AS_OF, active=True)

    assert (result.model, result.model_version) == ("active", version.version)
    assert result.trained_as_of == AS_OF and result.cutoff == CUTOFF
    assert result.in_sample
    text = _command("--as-of", AS_OF.isoformat(), "--active")
    assert f"active model v{version.version} was trained as of {AS_OF}" in text
    assert "in-sample" in text
    # Four courses: the stored figure is by course, and the command says so.
    assert result.validation is not None and result.validation.split == "course"
    assert "split course: by course: 4-fold over 4 courses" in text


def test_the_validation_split_is_named_by_course_or_by_time() -> None:
    make_history(n=160, seed=2, courses=2)

    result = risk_model_evaluate(as_of=AS_OF)
    text = _command("--as-of", AS_OF.isoformat())

    # Two courses: the figure the model was chosen by comes from later cut-offs, out of time.
    assert result.validation is not None and result.validation.split == "time"
    assert 0.5 < result.validation.roc_auc <= 1.0
    assert "split time: by time (only 2 course(s))" in text
    assert f"validation   ROC AUC {result.validation.roc_auc:.3f}" in text


def test_nobody_to_evaluate_names_as_of() -> None:
    with pytest.raises(DomainValidationError) as exc:
        risk_model_evaluate(as_of=AS_OF, active=True)
    assert "Nobody to evaluate" in exc.value.messages_text()
    assert list(exc.value.fields) == ["as_of"]


def test_too_little_history_to_fit_names_as_of() -> None:
    learner_active_on("alone", days(-5, 0))
    with pytest.raises(DomainValidationError) as exc:
        risk_model_evaluate(as_of=AS_OF)
    assert list(exc.value.fields) == ["as_of"]
    assert f"Cannot fit a model as of {CUTOFF}" in exc.value.messages_text()


@pytest.mark.parametrize("horizon", ["0", "-3"])
def test_a_horizon_under_one_day_is_refused(horizon) -> None:
    # Before, 0 silently meant "the default" and a negative horizon put the cut-off after as_of.
    learner_active_on("stays", days(-30, HORIZON))
    with pytest.raises(CommandError, match="horizon_days: The horizon must be at least one day"):
        _command("--as-of", AS_OF.isoformat(), "--active", "--horizon-days", horizon)


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate_risk_model", *args, stdout=out)
    return out.getvalue()
