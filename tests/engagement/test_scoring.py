"""Scoring runs: risk numbers, levels, run claiming, retries, handlers; end to end with training."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import numpy as np
import pytest
from celery.exceptions import Retry
from celery.signals import task_prerun
from django.db import IntegrityError, connection, transaction
from django.db.backends.signals import connection_created
from django.test import override_settings
from django.utils import timezone

from config.celery import app as celery_app
from engagement.models import EngagementScore, RiskModelVersion, ScoringRun
from engagement.scoring.model import RiskModel
from engagement.services import scoring
from engagement.services.recommendations import INTERVENTION_TYPES
from engagement.services.scoring import (
    horizon_risk,
    risk_level,
    scoring_run_execute,
    scoring_run_get_or_start,
    scoring_run_start,
)
from engagement.tasks import score_all
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_events
from tests.engagement.history import AS_OF, make_history
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

HANDLED: list[int] = []


def record_run(run: ScoringRun) -> None:
    HANDLED.append(run.pk)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, "low"),
        (29, "low"),
        (30, "medium"),
        (59, "medium"),
        (60, "high"),
        (79, "high"),
        (80, "critical"),
        (100, "critical"),
    ],
)
def test_level_boundaries(score: int, level: str) -> None:
    assert risk_level(score) == level


def test_weekly_below_horizon_below_monthly() -> None:
    p = np.linspace(0, 1, 101)
    weekly = horizon_risk(p, horizon_days=10, days=7)
    monthly = horizon_risk(p, horizon_days=10, days=30)
    assert np.all(weekly <= p + 1e-12) and np.all(p <= monthly + 1e-12)
    inner = (p > 0) & (p < 1)
    assert np.all(weekly[inner] < p[inner]) and np.all(p[inner] < monthly[inner])
    assert horizon_risk(np.array([0.5]), horizon_days=10, days=10)[0] == pytest.approx(0.5)


def test_run_scores_every_learner_with_baseline() -> None:
    history = make_history(n=40)
    run = scoring_run_start(as_of=AS_OF, execute_now=True)
    assert run.status == "done" and run.model_version is None
    assert run.total == run.processed == len(history.active_ids) and run.percent == 100
    scores = list(EngagementScore.objects.filter(run=run))
    assert {s.user_id for s in scores} == set(history.active_ids)
    for s in scores:
        assert s.weekly_risk <= s.drop_off_risk <= s.monthly_risk
        assert s.level == risk_level(s.drop_off_risk)
        assert 0 <= s.confidence <= 100
        assert s.drivers and {"signal", "label", "value", "contribution"} <= set(s.drivers[0])
        assert {r["code"] for r in s.recommendations} <= set(INTERVENTION_TYPES)
        assert all(r["reason"] for r in s.recommendations)
        assert "recency_days" in s.signal_values()
    fading = [s for s in scores if s.user_id in history.fading_ids]
    steady = [s for s in scores if s.user_id in history.steady_ids]
    assert np.mean([s.drop_off_risk for s in fading]) > np.mean([s.drop_off_risk for s in steady])
    assert len({s.confidence for s in scores}) > 3  # it varies with data and certainty


def test_second_worker_gets_nothing_and_retry_never_duplicates() -> None:
    history = make_history(n=20)
    run = scoring_run_start(as_of=AS_OF)  # pending; the task would be enqueued on commit
    assert run.status == "pending"
    first = scoring_run_execute(run_id=run.pk)
    assert first is not None and first.status == "done"
    assert scoring_run_execute(run_id=run.pk) is None  # already claimed and done
    # A worker died after writing some scores: the run is stale and pending again.
    EngagementScore.objects.filter(run=run).order_by("user_id")[:1].get().delete()
    ScoringRun.objects.filter(pk=run.pk).update(status="pending")
    again = scoring_run_execute(run_id=run.pk)
    assert again is not None and again.status == "done"
    assert EngagementScore.objects.filter(run=run).count() == len(history.active_ids)


def test_running_run_is_not_claimed_twice() -> None:
    make_history(n=5)
    run = ScoringRun.objects.create(as_of=AS_OF)
    claimed = scoring._claim(run.pk)
    assert claimed is not None and claimed.status == "running"
    assert scoring_run_execute(run_id=run.pk) is None
    # Only a run left running for hours (its worker gone) may be claimed again.
    stale = claimed.started_at - scoring.STALE_RUN - datetime.timedelta(minutes=1)
    ScoringRun.objects.filter(pk=run.pk).update(started_at=stale)
    assert scoring_run_execute(run_id=run.pk).status == "done"


@override_settings(STRIDE_SCORING_HANDLERS=["tests.engagement.test_scoring.record_run"])
def test_handlers_called_after_done() -> None:
    make_history(n=5)
    HANDLED.clear()
    run = scoring_run_start(as_of=AS_OF, execute_now=True)
    assert [run.pk] == HANDLED


def test_failure_marks_run_failed() -> None:
    make_history(n=5)
    # The active model version holds a model that was never fitted: it loads, but cannot score.
    RiskModelVersion.objects.create(
        version=1,
        as_of=AS_OF,
        horizon_days=10,
        algorithm="logistic",
        artifact=RiskModel().to_bytes(),
        is_active=True,
    )

    run = scoring_run_start(as_of=AS_OF, execute_now=True)

    assert run.status == "failed" and run.finished_at is not None
    assert run.error == "RuntimeError: RiskModel is not fitted"
    assert not EngagementScore.objects.filter(run=run).exists()


def test_start_hands_the_run_to_a_worker_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    make_history(n=5)
    started: list[str] = []

    def record(sender: Any = None, **kwargs: Any) -> None:
        started.append(sender.name)

    # Run what is enqueued in this process, as a worker would (Celery's own eager mode).
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    task_prerun.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=False) as on_commit:
            run = scoring_run_start(as_of=AS_OF)
        assert run.status == "pending" and started == []  # nothing before the commit
        for callback in on_commit:
            callback()
    finally:
        task_prerun.disconnect(record)

    assert started == ["engagement.execute_scoring_run"]
    run.refresh_from_db()
    assert run.status == "done" and run.processed == run.total > 0


# --- one scoring of the whole population per as-of date ----------------------------------------

RECALCULATE = "/dashboard/engagement/recalculate/"


def today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def test_the_database_allows_one_unfinished_run_per_date() -> None:
    ScoringRun.objects.create(as_of=AS_OF, status=ScoringRun.Status.DONE)
    ScoringRun.objects.create(as_of=AS_OF, status=ScoringRun.Status.RUNNING)
    ScoringRun.objects.create(as_of=AS_OF + datetime.timedelta(days=1))

    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringRun.objects.create(as_of=AS_OF)


def test_a_second_recalculate_all_shows_the_run_under_way_instead_of_starting_another(
    page_client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        first = page_client.post(RECALCULATE, headers={"HX-Request": "true"})
        second = page_client.post(RECALCULATE, headers={"HX-Request": "true"})

    run = ScoringRun.objects.get()
    progress = f'hx-get="/dashboard/engagement/runs/{run.pk}/progress/"'
    assert first.status_code == second.status_code == 200
    assert progress in first.content.decode() and progress in second.content.decode()
    # Handing a pending run to a worker again is harmless: only one worker can claim it.
    assert len(enqueued) == 2

    without_htmx = page_client.post(RECALCULATE, follow=True)
    assert ScoringRun.objects.count() == 1
    assert f"Scoring run {run.pk} is already under way" in without_htmx.content.decode()


def test_a_run_under_way_in_a_live_worker_is_joined_a_lost_one_handed_over_again(
    django_capture_on_commit_callbacks,
) -> None:
    run = ScoringRun.objects.create(
        as_of=AS_OF, status=ScoringRun.Status.RUNNING, started_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        joined, started = scoring_run_get_or_start(as_of=AS_OF)
    assert (joined.pk, started, len(enqueued)) == (run.pk, False, 0)

    ScoringRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - scoring.STALE_RUN - datetime.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        joined, started = scoring_run_get_or_start(as_of=AS_OF)
    assert (joined.pk, started, len(enqueued)) == (run.pk, False, 1)


def test_a_finished_run_does_not_stop_a_new_recalculation_of_the_same_date() -> None:
    make_history(n=5)
    first = scoring_run_start(as_of=AS_OF, execute_now=True)
    second = scoring_run_start(as_of=AS_OF, execute_now=True)

    assert first.status == second.status == "done" and first.pk != second.pk


def test_a_redelivered_nightly_score_all_reuses_the_days_finished_run() -> None:
    make_history(n=5)
    first = score_all()
    scores = EngagementScore.objects.count()

    assert score_all() == first  # the same message, delivered again after the run finished
    run = ScoringRun.objects.get()
    assert (run.pk, run.as_of, run.status) == (first, today(), "done")
    assert EngagementScore.objects.count() == scores


def test_a_redelivered_score_all_waits_for_the_run_another_worker_is_executing() -> None:
    ScoringRun.objects.create(
        as_of=today(), status=ScoringRun.Status.RUNNING, started_at=timezone.now()
    )

    with pytest.raises(Retry):
        score_all()
    assert ScoringRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_score_all_score_the_day_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "The in-memory SQLite test database fails concurrent writers with 'table is "
            "locked'; SQLite files serialise them (transaction mode IMMEDIATE)."
        )
    make_history(n=10)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(score_all())
        except Retry as exc:  # found the day's run executing in another thread: waits
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    run = ScoringRun.objects.get()
    assert run.status == "done"
    assert len(results) == 8
    assert {r for r in results if not isinstance(r, Retry)} <= {run.pk}
    assert EngagementScore.objects.filter(run=run).count() == run.total


# --- a score per active enrolment ----------------------------------------------------------------


def _days_before(as_of: datetime.date, days: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(
        as_of - datetime.timedelta(days=days), datetime.time(hour), datetime.UTC
    )


def test_a_learner_in_two_courses_gets_a_score_per_course() -> None:
    learner = UserFactory()
    keen, left = CourseFactory(title="Keen"), CourseFactory(title="Left")
    since = _days_before(AS_OF, 60)
    EnrollmentFactory(user=learner, course=keen, enrolled_at=since)
    EnrollmentFactory(user=learner, course=left, enrolled_at=since)
    # Active in "keen" nearly every day of the last two weeks; gone from "left" for 40 days.
    make_events(learner, [("page_view", _days_before(AS_OF, d)) for d in range(14)], course=keen)
    make_events(
        learner, [("page_view", _days_before(AS_OF, d)) for d in range(40, 55)], course=left
    )

    run = scoring_run_start(as_of=AS_OF, execute_now=True)

    rows = {s.course_id: s for s in EngagementScore.objects.filter(run=run, user=learner)}
    assert set(rows) == {keen.pk, left.pk} and run.total == 2
    assert rows[left.pk].drop_off_risk > rows[keen.pk].drop_off_risk + 30
    assert rows[left.pk].signal_values()["recency_days"] == 40
    assert rows[keen.pk].signal_values()["recency_days"] == 0
    assert not rows[keen.pk].never_started and not rows[left.pk].never_started


def test_a_never_started_enrolment_is_scored_high_with_low_confidence() -> None:
    learner, busy = UserFactory(), UserFactory()
    course = CourseFactory()
    EnrollmentFactory(user=learner, course=course, enrolled_at=_days_before(AS_OF, 21))
    EnrollmentFactory(user=busy, course=course, enrolled_at=_days_before(AS_OF, 21))
    make_events(busy, [("page_view", _days_before(AS_OF, d)) for d in range(10)], course=course)

    run = scoring_run_start(as_of=AS_OF, execute_now=True)  # no model trained: the baseline

    score = EngagementScore.objects.get(run=run, user=learner)
    other = EngagementScore.objects.get(run=run, user=busy)
    assert score.never_started and not other.never_started
    assert score.course_id == course.pk
    assert score.level in ("high", "critical") and score.drop_off_risk > other.drop_off_risk
    assert score.confidence <= scoring.NEVER_STARTED_MAX_CONFIDENCE < other.confidence
    reasons = " ".join(r["reason"] for r in score.recommendations)
    assert "has not started the course since enrolling 21 days ago" in reasons.lower()
    assert "365" not in reasons  # no "inactive for 365 days" for someone who never began


def test_drivers_are_stored_as_sentences_with_their_sign() -> None:
    make_history(n=20)
    run = scoring_run_start(as_of=AS_OF, execute_now=True)
    drivers = [d for s in EngagementScore.objects.filter(run=run) for d in s.drivers]
    assert drivers
    for d in drivers:
        assert {"signal", "label", "text", "value", "contribution"} <= set(d)
        assert d["text"] and d["text"] != d["signal"]  # a sentence, not a signal name
    assert any(d["contribution"] > 0 for d in drivers)


def test_a_retried_run_writes_each_enrolment_once() -> None:
    learner = UserFactory()
    first, second = CourseFactory(), CourseFactory()
    for course in (first, second):
        EnrollmentFactory(user=learner, course=course, enrolled_at=_days_before(AS_OF, 20))
    make_events(learner, [("login", _days_before(AS_OF, 2))])  # no course: counts for both
    run = scoring_run_start(as_of=AS_OF)
    scoring_run_execute(run_id=run.pk)
    EngagementScore.objects.filter(run=run, course=second).delete()
    ScoringRun.objects.filter(pk=run.pk).update(status="pending")

    scoring_run_execute(run_id=run.pk)

    rows = EngagementScore.objects.filter(run=run).order_by("course_id")
    assert [(s.user_id, s.course_id) for s in rows] == [
        (learner.pk, first.pk),
        (learner.pk, second.pk),
    ]
    assert all(s.signal_values()["recency_days"] == 2 for s in rows)


@pytest.mark.django_db(transaction=True)
def test_a_run_written_in_several_chunks_keeps_every_score_and_its_progress() -> None:
    """Outside a transaction (as in a task) PostgreSQL writes each chunk from a second thread
    while the next is prepared; every chunk lands, and the progress counts them all."""
    history = make_history(n=16)
    run = ScoringRun.objects.create(as_of=AS_OF)

    done = scoring_run_execute(run_id=run.pk, chunk_size=5)

    assert done.status == "done", done.error
    done.refresh_from_db()
    scores = EngagementScore.objects.filter(run=run)
    assert done.processed == done.total == scores.count() == len(history.active_ids)
    assert scores.values("user_id", "course_id").distinct().count() == done.total


@pytest.mark.django_db(transaction=True)
def test_a_chunk_that_fails_in_the_writer_thread_fails_the_run_and_closes_its_connection() -> None:
    """The second thread's failure reaches the run (failed, with the error; never "done"), the
    progress counts only the chunks that landed, no later chunk is written, and the thread's
    own connection is closed."""
    if connection.vendor != "postgresql":
        pytest.skip("Only PostgreSQL writes chunks from a second thread.")
    history = make_history(n=16)
    # The database refuses the 8th enrolment's row (rows go in (user, course) order; one
    # enrolment each), so the second chunk of five fails as a full disk would.
    refused = sorted(history.active_ids)[7]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_score() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.user_id = {int(refused)} THEN RAISE EXCEPTION 'no space left on device'; "
            "END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_score BEFORE INSERT ON engagement_engagementscore "
            "FOR EACH ROW EXECUTE FUNCTION refuse_score()"
        )
    opened: list[Any] = []

    def record_thread_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            opened.append(connection)

    run = ScoringRun.objects.create(as_of=AS_OF)
    connection_created.connect(record_thread_connection)
    try:
        scoring_run_execute(run_id=run.pk, chunk_size=5)
    finally:
        connection_created.disconnect(record_thread_connection)
        with connection.cursor() as cursor:  # DDL outlives this test's flush
            cursor.execute("DROP TRIGGER refuse_score ON engagement_engagementscore")
            cursor.execute("DROP FUNCTION refuse_score()")

    run.refresh_from_db()
    assert run.status == "failed" and "no space left on device" in run.error
    assert run.total == 16
    assert run.processed == EngagementScore.objects.filter(run=run).count() == 5
    assert opened and all(wrapper.connection is None for wrapper in opened)
