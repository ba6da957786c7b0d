"""Training from Stride's own history: cut-offs across the whole history, who is an example,
how examples are weighted, honest validation, versioning, and ranking quality."""

from __future__ import annotations

import datetime
import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import DomainValidationError
from engagement.models import EngagementScore, RiskModelVersion
from engagement.scoring.labels import (
    COURSE_WEIGHT_POWER,
    NEVER_STARTED_EXAMPLE_DAYS,
    already_gone,
    example_weights,
)
from engagement.services.scoring import learners_score, scoring_run_start
from engagement.services.training import (
    MAX_CUTOFFS,
    MIN_HISTORY_DAYS,
    risk_model_train,
    training_cutoffs,
    training_examples,
)
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.engagement.history import AS_OF, make_history
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

HORIZON = 10


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), datetime.UTC)


def test_cutoffs_are_weekly_back_to_the_first_week_of_the_history() -> None:
    first = datetime.date(2026, 1, 5)
    cutoffs = training_cutoffs(as_of=AS_OF, horizon_days=HORIZON, first_day=first)
    assert cutoffs[0] == AS_OF - datetime.timedelta(days=HORIZON)  # label window ends on as_of
    assert {(a - b).days for a, b in itertools.pairwise(cutoffs)} == {7}
    # Down to the course's first weeks, not just the last few before as_of.
    assert MIN_HISTORY_DAYS <= (cutoffs[-1] - first).days < MIN_HISTORY_DAYS + 7
    assert len(cutoffs) == 10
    assert training_cutoffs(as_of=AS_OF, horizon_days=HORIZON, first_day=AS_OF) == []


def test_a_long_history_is_thinned_but_still_spans_all_of_it() -> None:
    first = datetime.date(2021, 1, 4)
    cutoffs = training_cutoffs(as_of=AS_OF, horizon_days=HORIZON, first_day=first)
    assert len(cutoffs) == MAX_CUTOFFS
    assert cutoffs[0] == AS_OF - datetime.timedelta(days=HORIZON)
    assert (cutoffs[-1] - first).days < MIN_HISTORY_DAYS + 7
    assert all((a - b).days % 7 == 0 for a, b in itertools.pairwise(cutoffs))


def test_weights_give_each_enrolment_one_vote_and_temper_big_courses() -> None:
    # Course 1: enrolment (1) seen at 4 cut-offs, (2) at 1, (3) at 1; course 2: (4) at 2.
    users = np.array([1, 1, 1, 1, 2, 3, 4, 4])
    courses = np.array([1, 1, 1, 1, 1, 1, 2, 2])
    w = example_weights(users, courses)
    assert w.mean() == pytest.approx(1.0)
    per_enrolment = {u: w[users == u].sum() for u in (1, 2, 3)}
    assert per_enrolment[1] == pytest.approx(per_enrolment[2]) == pytest.approx(per_enrolment[3])
    # Three enrolments against one: the course weighs 3 ** 0.5 times as much, not 3 times.
    ratio = w[courses == 1].sum() / w[courses == 2].sum()
    assert ratio == pytest.approx(3**COURSE_WEIGHT_POWER)


def test_already_gone_means_silent_for_the_horizon_or_never_started_for_weeks() -> None:
    gone = already_gone(
        days_since_last=np.array([0, 9, 10, 30, np.inf, np.inf, np.inf]),
        enrolment_age=np.array([40, 40, 40, 40, 3, NEVER_STARTED_EXAMPLE_DAYS, 40]),
        withdrawn=np.zeros(7, dtype=bool),
        horizon_days=HORIZON,
    )
    assert gone.tolist() == [False, False, True, True, False, False, True]


def test_enrolments_that_dropped_off_are_not_examples_at_later_cut_offs() -> None:
    course = CourseFactory()
    start = AS_OF - datetime.timedelta(days=60)
    steady, quits, never = UserFactory(), UserFactory(), UserFactory()
    for user in (steady, quits):
        EnrollmentFactory(user=user, course=course, enrolled_at=noon(start))
    EnrollmentFactory(
        user=never, course=course, enrolled_at=noon(AS_OF - datetime.timedelta(days=45))
    )
    quit_day = AS_OF - datetime.timedelta(days=30)  # last activity
    for user, last in ((steady, AS_OF), (quits, quit_day)):
        days = [start + datetime.timedelta(days=d) for d in range((last - start).days + 1)]
        make_events(user, [("login", noon(day)) for day in days], course=course)

    data = training_examples(as_of=AS_OF, horizon_days=HORIZON)

    def cutoffs_of(user) -> list[datetime.date]:
        rows = data.user_ids == user.pk
        return sorted(datetime.date.fromordinal(int(c)) for c in data.cutoff[rows])

    every = sorted(data.cutoffs)
    assert cutoffs_of(steady) == [c for c in every if c >= start + datetime.timedelta(days=7)]
    # The quitter is an example while their silence is shorter than the horizon, then not.
    assert cutoffs_of(quits) == [c for c in cutoffs_of(steady) if (c - quit_day).days < HORIZON]
    assert max(cutoffs_of(quits)) > quit_day
    later = [c for c in cutoffs_of(steady) if (c - quit_day).days >= HORIZON]
    assert later and all(data.gone[c] >= 1 for c in later)
    # Labelled by their own course activity: the quitter's last example dropped off.
    last = (data.user_ids == quits.pk) & (data.cutoff == max(cutoffs_of(quits)).toordinal())
    assert data.y[last].tolist() == [1]
    assert set(data.y[data.user_ids == steady.pk].tolist()) == {0}
    # The never-started enrolment is an example for its first four weeks, always dropping off.
    enrolled = AS_OF - datetime.timedelta(days=45)
    assert cutoffs_of(never) == [
        c for c in every if 0 <= (c - enrolled).days <= NEVER_STARTED_EXAMPLE_DAYS
    ]
    assert set(data.y[data.user_ids == never.pk].tolist()) == {1}
    # Each enrolment's examples share one weight, whatever the number of its cut-offs.
    sums = [data.weight[data.user_ids == u.pk].sum() for u in (steady, quits, never)]
    assert sums == pytest.approx([sums[0]] * 3)


def test_too_little_history_names_as_of() -> None:
    make_history(n=4)
    with pytest.raises(DomainValidationError) as exc:
        risk_model_train(as_of=AS_OF, horizon_days=HORIZON)
    assert "as_of" in exc.value.fields
    assert not RiskModelVersion.objects.exists()


def test_with_two_courses_the_stored_figure_is_validated_by_time() -> None:
    make_history(n=160, seed=2, courses=2)

    version = risk_model_train(as_of=AS_OF, horizon_days=HORIZON)

    m = version.metrics
    assert m["validation_split"] == "time" and m["n_groups"] == 2
    latest = AS_OF - datetime.timedelta(days=HORIZON)
    assert m["validation_cutoffs"][-1] == latest.isoformat()
    assert m["calibrated_on"] == f"rows of the latest cut-off {latest}, predicted out of time"
    # Validated on later cut-offs only, by a model trained on earlier ones.
    assert m["validated_examples"] < m["n_examples"]
    assert m["trained_examples"] < m["n_examples"]
    assert 0.6 < m["roc_auc"] < 1.0


def test_train_then_score_ranks_fading_above_steady() -> None:
    history = make_history(n=300, seed=1)
    first = risk_model_train(as_of=AS_OF, horizon_days=HORIZON)
    assert first.version == 1 and first.is_active and first.horizon_days == HORIZON
    assert first.examples > 300 and len(first.metrics["cutoffs"]) >= 6
    for key in ("roc_auc", "pr_auc", "brier", "calibration", "validation_split"):
        assert key in first.metrics
    assert first.metrics["validation_split"] == "course"
    assert first.metrics["roc_auc"] > 0.7

    second = risk_model_train(as_of=AS_OF, horizon_days=HORIZON)
    first.refresh_from_db()
    assert second.version == 2 and second.is_active and not first.is_active

    run = scoring_run_start(as_of=AS_OF, execute_now=True)
    assert run.model_version_id == second.pk
    risk = dict(EngagementScore.objects.filter(run=run).values_list("user_id", "drop_off_risk"))
    ids = [u for u in history.active_ids if u in risk]
    y = np.array([u in set(history.fading_ids) for u in ids])
    assert roc_auc_score(y, [risk[u] for u in ids]) > 0.8


def test_weeks_old_never_started_enrolments_score_high() -> None:
    make_history(n=200, seed=5)
    course = CourseFactory()
    # Late starters begin three days after enrolling; never-starters never do. Both join
    # through the whole history, so every cut-off sees new ones.
    for k in range(40):
        enrolled = AS_OF - datetime.timedelta(days=65 - k)
        late, never = UserFactory(), UserFactory()
        EnrollmentFactory(user=late, course=course, enrolled_at=noon(enrolled))
        EnrollmentFactory(user=never, course=course, enrolled_at=noon(enrolled))
        days = [enrolled + datetime.timedelta(days=3 + d) for d in range(0, 62 - k, 2)]
        make_events(late, [("login", noon(day)) for day in days if day <= AS_OF], course=course)
    fresh = UserFactory()
    EnrollmentFactory(
        user=fresh, course=course, enrolled_at=noon(AS_OF - datetime.timedelta(days=1))
    )
    risk_model_train(as_of=AS_OF, horizon_days=HORIZON)

    scored = learners_score(as_of=AS_OF)

    never = scored["never_started"]
    age = scored["enrolment_age"]
    weeks_old = never & (age >= 21)
    assert weeks_old.sum() >= 20
    assert (scored["drop_off"][weeks_old] >= 60).all()
    fresh_row = np.flatnonzero(scored["user_ids"] == fresh.pk)
    assert scored["drop_off"][fresh_row][0] < scored["drop_off"][weeks_old].min()
    # Their drivers speak of the enrolment's real age, never of the window's length as if it
    # were a break ("No activity for 56 days" for someone who enrolled 21 days ago).
    rows = np.flatnonzero(weeks_old)
    drivers = scored["model"].explain(scored["X"][rows], top=8, typical=scored["typical"][rows])
    for row_drivers in drivers:
        signals = {d.signal for d in row_drivers}
        assert not signals & {"current_gap_days", "longest_gap_days"}
