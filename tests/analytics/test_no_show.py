"""No-show prediction through the services: stored probabilities and reasons, training on
the stored history, the alert and the reminder."""

from __future__ import annotations

import datetime
import math
import random

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import NoShowModel, NoShowPrediction
from analytics.services.no_show import no_show_model_train, no_shows_predict
from engagement.models import Alert
from interventions.services.deliveries import deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.analytics.live_history import attend, register, registration, schedule
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import MessageTemplateFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
H = datetime.timedelta(hours=1)
D = datetime.timedelta(days=1)


@pytest.fixture
def course():
    return CourseFactory(external_id="py101", title="Python 101")


def _learner(course, email: str):
    user = UserFactory(email=email, external_id=email.split("@")[0])
    EnrollmentFactory(user=user, course=course, enrolled_at=NOW - 30 * D)
    return user


def test_the_baseline_is_stored_with_its_reasons(course):
    ann, bob = _learner(course, "ann@example.com"), _learner(course, "bob@example.com")
    run = make_run((NOW - D).date())
    make_score(run, ann, 70, course=course)
    for i, ann_came in enumerate([False, False, True]):
        session = schedule(course, f"past-{i}", NOW - (10 - i) * D)
        register(session, [ann, bob], at=NOW - 20 * D)
        attend(session, course, {ann: ann_came, bob: True}, NOW - (10 - i) * D + H)
    upcoming = schedule(course, "next", NOW + 5 * H, title="Office hour")
    register(upcoming, [ann, bob], at=NOW - D)
    schedule(course, "later", NOW + 72 * H)  # beyond the 48 hours: not predicted
    register("later", [ann], at=NOW - D)

    result = no_shows_predict(now=NOW)

    assert (result.predicted, result.source) == (2, "baseline")
    ann_p = NoShowPrediction.objects.get(registration=registration(upcoming, ann))
    no_show, reschedule, kept = (2 + 0.6) / 5, (0 + 0.2) / 5, (1 + 1.2) / 5
    expected = 0.4 * no_show + 0.2 * reschedule + 0.2 * (1 - kept) + 0.2 * 0.70
    assert ann_p.probability == pytest.approx(expected, abs=1e-4)
    assert ann_p.reasons[0] == "missed 2 of 3 earlier sessions"
    assert "drop-off risk 70%" in ann_p.reasons
    bob_p = NoShowPrediction.objects.get(registration=registration(upcoming, bob))
    assert bob_p.probability < ann_p.probability  # came every time, never scored (50%)

    again = no_shows_predict(now=NOW + H)
    assert again.predicted == 2 and NoShowPrediction.objects.count() == 2


def test_high_risk_raises_one_alert_and_one_reminder(course, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    MessageTemplateFactory(
        slug="live-session-reminder",
        subject="{{ live_session }} starts soon",
        body="See you there: {{ live_session_starts }}.",
    )
    ann, bob = _learner(course, "ann@example.com"), _learner(course, "bob@example.com")
    ann.timezone = "Europe/Berlin"
    ann.save(update_fields=["timezone"])
    for i in range(4):
        session = schedule(course, f"past-{i}", NOW - (10 - i) * D)
        register(session, [ann, bob], at=NOW - 20 * D)
        attend(session, course, {ann: False, bob: True}, NOW - (10 - i) * D + H)
    soon = schedule(course, "soon", NOW + 3 * H, title="Office hour")
    register(soon, [ann, bob], at=NOW - D)
    register(schedule(course, "next-week", NOW + 7 * D, title="Lab"), [ann], at=NOW - D)

    first = no_shows_predict(now=NOW)
    second = no_shows_predict(now=NOW + 10 * datetime.timedelta(minutes=1))

    assert (first.alerts, second.alerts) == (1, 0)
    alert = Alert.objects.get(rule__code="no_show_risk")
    assert alert.user == ann and alert.course == course
    assert "likely to miss" in alert.message
    assert (first.reminders, second.reminders) == (1, 0)
    deliveries_send_due(now=NOW + 11 * datetime.timedelta(minutes=1))
    deliveries_send_due(now=NOW + 12 * datetime.timedelta(minutes=1))
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    # The reminder names the session, at the learner's own time (15:00 UTC in Berlin).
    assert mail.outbox[0].subject == "Office hour starts soon"
    assert "See you there: Tue 10 Mar, 16:00 CET." in mail.outbox[0].body


def test_no_reminder_without_the_staff_template_or_far_from_the_session(course):
    ann = _learner(course, "ann@example.com")
    for i in range(4):
        session = schedule(course, f"past-{i}", NOW - (10 - i) * D)
        register(session, [ann], at=NOW - 20 * D)
        attend(session, course, {ann: False}, NOW - (10 - i) * D + H)
    register(schedule(course, "soon", NOW + 3 * H), [ann], at=NOW - D)

    assert no_shows_predict(now=NOW).reminders == 0

    MessageTemplateFactory(slug="live-session-reminder")
    register(schedule(course, "far", NOW + 40 * H), [ann], at=NOW - D)
    result = no_shows_predict(now=NOW + H)
    assert result.reminders == 1  # "soon" now has its template; "far" is 40 hours away


def _planted_history(course, n_learners: int, n_sessions: int, per_session: int, signal: bool):
    rnd = random.Random(5)
    learners = [_learner(course, f"l{i}@example.com") for i in range(n_learners)]
    for s in range(n_sessions):
        evening = s % 2 == 1
        starts = NOW - (n_sessions - s) * D + (19 if evening else 10) * H - 12 * H
        session = schedule(course, f"s{s}", starts)
        outcomes = {}
        for user in rnd.sample(learners, per_session):
            lead = rnd.uniform(0, 20)
            register(session, [user], at=starts - lead * D)
            z = -2.5 + 2.2 * evening + 0.12 * lead if signal else -0.85
            outcomes[user] = rnd.random() >= 1 / (1 + math.exp(-z))
        attend(session, course, outcomes, starts + H)
    return learners


def test_trained_on_a_planted_history_the_model_replaces_the_baseline(course):
    learners = _planted_history(course, 60, 40, 8, signal=True)
    register(schedule(course, "next", NOW + 7 * H), learners[:5], at=NOW - D)

    card = no_show_model_train(now=NOW)

    assert card.in_use and card.n_outcomes == 320
    assert card.model_auc > card.baseline_auc and card.model_log_loss < card.baseline_log_loss
    result = no_shows_predict(now=NOW)
    assert (result.source, result.predicted) == ("model", 5)
    prediction = NoShowPrediction.objects.filter(source="model").first()
    assert prediction.model == card and prediction.reasons

    # A later attempt that cannot train (here: as of before the history) retires the model.
    retired = no_show_model_train(now=NOW - 60 * D)
    assert not retired.in_use
    assert no_shows_predict(now=NOW).source == "baseline"
    assert set(NoShowPrediction.objects.values_list("source", flat=True)) == {"baseline"}


def test_too_small_a_history_keeps_the_baseline(course):
    _planted_history(course, 40, 18, 10, signal=True)

    small = no_show_model_train(now=NOW)
    assert not small.in_use and small.n_outcomes == 180
    assert small.note.startswith("Not enough history")
    assert NoShowModel.objects.count() == 1


def _queries_to_predict(course, n: int, tag: str) -> int:
    learners = [_learner(course, f"{tag}{i}@example.com") for i in range(n)]
    for i in range(2):
        session = schedule(course, f"{tag}-past-{i}", NOW - (5 - i) * D)
        register(session, learners, at=NOW - 9 * D)
        attend(session, course, {u: i % 2 == 0 for u in learners}, NOW - (5 - i) * D + H)
    register(schedule(course, f"{tag}-next", NOW + 5 * H), learners, at=NOW - D)
    with CaptureQueriesContext(connection) as queries:
        no_shows_predict(now=NOW)
    return len(queries)


def test_predicting_takes_as_many_queries_for_many_learners_as_for_few(course):
    few = _queries_to_predict(course, 2, "a")
    NoShowPrediction.objects.all().delete()
    other = CourseFactory(external_id="ml", title="ML")
    many = _queries_to_predict(other, 12, "b")

    assert many == few
    assert NoShowPrediction.objects.count() == 2 + 12
