"""The stored outcomes behind an experiment's results: the same results as computed live, and
exact at once when events, late events, exposures or the metrics change after the store was
last refreshed; refreshes that run twice or at once store each learner once."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from campaigns.models import Experiment, ExperimentOutcomes, Exposure, ExposureOutcome
from campaigns.selectors.experiments import experiment_results
from campaigns.services.experiment_outcomes import outcomes_refresh, outcomes_refresh_started
from campaigns.services.experiments import experiment_create, experiment_start, experiment_update
from engagement.models import Event
from tests.locks import needs_postgresql

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
SPEC = {
    "key": "stored-outcomes",
    "variants": [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
    "primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 7},
    "secondary_metrics": [{"kind": "continuous", "event": "lesson_started", "window_days": 7}],
}


def _event(user: User, type_: str, at: datetime.datetime, received: datetime.datetime) -> Event:
    return Event(
        source="t",
        client_id=f"{type_}-{user.pk}-{at.timestamp()}",
        type=type_,
        user=user,
        occurred_at=at,
        received_at=received,
    )


def _history(n: int = 40) -> tuple[Experiment, list[User], datetime.datetime]:
    """A running experiment whose learners were exposed 6 days ago, with activity before and
    conversions after, all received (and the exposures recorded) as it happened: an hour and
    more ago."""
    experiment = experiment_start(experiment=experiment_create(spec=SPEC, actor=None), actor=None)
    now = timezone.now()
    Experiment.objects.filter(pk=experiment.pk).update(started_at=now - 8 * DAY)
    experiment.refresh_from_db()
    User.objects.bulk_create(
        User(email=f"o{i}@example.com", external_id=f"o-{i}", role="student") for i in range(n)
    )
    learners = list(User.objects.filter(external_id__startswith="o-").order_by("pk"))
    exposed = now - 6 * DAY
    Exposure.objects.bulk_create(
        Exposure(
            experiment=experiment,
            user=u,
            variant="control" if i % 2 else "b",
            exposed_at=exposed,
            source="assignment",
        )
        for i, u in enumerate(learners)
    )
    Exposure.objects.update(recorded_at=exposed)
    events = []
    for i, u in enumerate(learners):
        for k in range(i % 4):  # the covariate: activity in the 14 days before exposure
            at = exposed - (k + 1) * DAY
            events.append(_event(u, "page_view", at, at))
        if i % 3 == 0 or (i % 2 == 0 and i % 5 == 0):  # b converts more
            at = exposed + DAY
            events.append(_event(u, "lesson_completed", at, at))
        for k in range(i % 3):
            at = exposed + (k + 2) * DAY
            events.append(_event(u, "lesson_started", at, at))
    Event.objects.bulk_create(events)
    return experiment, learners, now


def _figures(experiment: Experiment) -> dict:
    results = experiment_results(experiment=Experiment.objects.get(pk=experiment.pk))
    return {
        "users": results.users,
        "multiple": results.multiple_exposures,
        "primary": results.primary.variants,
        "reduction": results.primary.variance_reduction,
        "secondary": [m.variants for m in results.secondary],
    }


def test_results_from_the_store_are_the_results_computed_live():
    experiment, learners, _ = _history()
    live = _figures(experiment)
    assert live["primary"][0]["conversions"] > 0 and live["reduction"] is not None

    store = outcomes_refresh(experiment=experiment)
    assert store.learners == len(learners)
    assert _figures(experiment) == live
    # What the store holds for one learner: their activity before, and each metric's value.
    row = ExposureOutcome.objects.get(experiment=experiment, user=learners[3])
    assert (row.variant, row.covariate, row.metric_values) == ("control", 3, [1, 0])


def test_news_after_the_refresh_counts_at_once():
    experiment, learners, now = _history()
    outcomes_refresh(experiment=experiment)
    before = _figures(experiment)
    # A late event (it happened 5 days ago, within the window, and arrives now), a learner
    # exposed for the first time, and one exposed to the other variant too.
    late = next(u for i, u in enumerate(learners) if i % 2 and i % 3)  # control, no conversion
    Event.objects.bulk_create([_event(late, "lesson_completed", now - 5 * DAY, now)])
    newcomer = User.objects.create(email="new@example.com", external_id="o-new", role="student")
    Exposure.objects.create(
        experiment=experiment, user=newcomer, variant="b", exposed_at=now - DAY, source="t"
    )
    Exposure.objects.create(
        experiment=experiment, user=learners[0], variant="control", exposed_at=now, source="t"
    )

    after = _figures(experiment)
    assert after["primary"][0]["conversions"] == before["primary"][0]["conversions"] + 1
    assert after["multiple"] == 1
    assert after["users"] == {
        "control": before["users"]["control"],
        "b": before["users"]["b"],  # one in (the newcomer), one out (exposed twice)
    }
    # The refresh stores the news; the results do not change.
    outcomes_refresh(experiment=experiment)
    assert _figures(experiment) == after
    assert ExposureOutcome.objects.get(experiment=experiment, user=learners[0]).multiple


def test_changed_metrics_are_read_live_until_the_store_is_rebuilt():
    experiment, learners, _ = _history()
    outcomes_refresh(experiment=experiment)
    # A running experiment's guardrails can be edited: one is added before the secondary.
    experiment = experiment_update(
        experiment=experiment,
        spec={
            "guardrail_metrics": [{"kind": "binomial", "event": "lesson_started", "window_days": 7}]
        },
        actor=None,
    )
    started = [  # learners with a lesson started within 7 days of exposure, per variant
        sum(1 for i in range(len(learners)) if i % 3 and i % 2 == parity) for parity in (1, 0)
    ]
    changed = _figures(experiment)
    guardrail = experiment_results(experiment=experiment).guardrails[0].variants
    assert [row["conversions"] for row in guardrail] == started
    assert changed["secondary"][0][0]["mean"] > 0  # still the lessons started, by position
    outcomes_refresh(experiment=experiment)
    assert _figures(experiment) == changed
    assert ExposureOutcome.objects.get(experiment=experiment, user=learners[1]).metric_values == [
        0,
        1,
        1,
    ]


def test_a_second_refresh_with_no_news_stores_the_same_rows():
    experiment, learners, _ = _history()
    outcomes_refresh(experiment=experiment)
    first = list(ExposureOutcome.objects.order_by("user_id").values_list())
    outcomes_refresh(experiment=experiment)
    assert list(ExposureOutcome.objects.order_by("user_id").values_list()) == first
    assert len(first) == len(learners)


def test_beat_refreshes_the_started_experiments_only():
    experiment, learners, _ = _history()
    draft = experiment_create(spec={**SPEC, "key": "still-a-draft"}, actor=None)
    assert outcomes_refresh_started() == 1
    assert ExperimentOutcomes.objects.get(experiment=experiment).learners == len(learners)
    assert not ExperimentOutcomes.objects.filter(experiment=draft).exists()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_while_another_runs_leaves_at_once_and_nothing_is_stored_twice():
    needs_postgresql()
    experiment, learners, _ = _history()
    live = _figures(experiment)
    first_in, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def first() -> None:
        try:
            with transaction.atomic():  # holds the store's lock until released
                outcomes_refresh(experiment=experiment)
                first_in.set()
                release.wait(20)
        except Exception as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    # As outcomes_refresh does before its transaction: the store's row exists, committed.
    ExperimentOutcomes.objects.create(experiment=experiment)
    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(20)
    try:
        started = time.monotonic()
        skipped = outcomes_refresh(experiment=experiment)
        assert time.monotonic() - started < 5
        assert skipped.through is None  # the first one's work is not committed yet
    finally:
        release.set()
        thread.join(30)
    assert errors == []
    assert ExposureOutcome.objects.filter(experiment=experiment).count() == len(learners)
    assert ExperimentOutcomes.objects.get(experiment=experiment).through is not None
    assert _figures(experiment) == live
