"""Ingestion service: validation, idempotency, provisional catalogue and follow-ups."""

import threading
import time
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from accounts.services import users_upsert
from core.bulk import PROBE_MAX_ROWS
from core.records import EventRecord
from engagement.catalogue import EVENT_TYPES, KIND_OF_TYPE, NON_ACTIVITY_TYPES, is_custom_type
from engagement.models import Event
from engagement.services.ingestion import events_ingest
from learning.models import Course, Enrollment, Lesson, LessonProgress
from learning.services import courses_upsert, enrollments_upsert, lessons_upsert
from tests.locks import backend_pid, needs_postgresql, wait_until_blocked

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(client_id: str = "e1", **fields: Any) -> dict[str, Any]:
    """A valid page_view event, changed by `fields` (None removes a field)."""
    event: dict[str, Any] = {
        "id": client_id,
        "type": "page_view",
        "user": "u1",
        "course": "c1",
        "occurred_at": "2026-03-02T11:00:00+02:00",
        "device": "mobile",
        "session_id": "s-1",
        "platform": "ios",
        "properties": {"path": "/home"},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_kinds_cover_activity_types_and_match_scoring_kinds() -> None:
    from engagement.scoring.activity import KINDS

    assert set(KIND_OF_TYPE) <= set(EVENT_TYPES)
    assert set(KIND_OF_TYPE.values()) <= set(KINDS)
    assert set(EVENT_TYPES) >= NON_ACTIVITY_TYPES
    assert is_custom_type("x-certificate-shared")
    assert not is_custom_type("x-Bad_Name")
    assert not is_custom_type("login")


# --- storing --------------------------------------------------------------------------------


def test_valid_event_is_stored_with_every_field_and_provisional_references() -> None:
    result = events_ingest(source="lms", items=[ev()])

    assert (result.accepted, result.duplicates, result.rejected) == (1, [], {})
    event = Event.objects.get()
    assert event.source == "lms" and event.client_id == "e1" and event.type == "page_view"
    assert event.occurred_at == T0
    assert (event.device, event.session_id, event.platform) == ("mobile", "s-1", "ios")
    assert event.properties == {"path": "/home"}
    user = User.objects.get(external_id="u1")
    course = Course.objects.get(external_id="c1")
    assert user.provisional and course.provisional
    assert event.user == user and event.course == course
    enrollment = Enrollment.objects.get(user=user, course=course)
    assert enrollment.provisional and enrollment.enrolled_at == T0


def test_known_users_and_courses_are_reused_not_made_provisional() -> None:
    users_upsert(items=[{"external_id": "u1", "email": "ada@example.com"}])
    courses_upsert(items=[{"external_id": "c1", "title": "Python"}])

    events_ingest(source="lms", items=[ev()])

    assert User.objects.filter(external_id="u1").count() == 1
    assert not User.objects.get(external_id="u1").provisional
    assert not Course.objects.get(external_id="c1").provisional


ENVELOPE_ERRORS = [
    ("id", {"id": None}),
    ("id", {"id": ""}),
    ("id", {"id": "x" * 129}),
    ("id", {"id": 42}),
    ("type", {"type": "teleported"}),
    ("type", {"type": None}),
    ("type", {"type": "x-Not_Valid"}),
    ("user", {"user": None}),
    ("user", {"user": ["u1"]}),
    ("course", {"course": 7}),
    ("lesson", {"lesson": {"id": "l1"}}),
    ("occurred_at", {"occurred_at": None}),
    ("occurred_at", {"occurred_at": "yesterday"}),
    ("occurred_at", {"occurred_at": "2026-03-02T11:00:00"}),
    ("occurred_at", {"occurred_at": 1767000000}),
    ("occurred_at", {"occurred_at": "2999-01-01T00:00:00Z"}),
    ("device", {"device": "watch"}),
    ("session_id", {"session_id": "s" * 129}),
    ("platform", {"platform": "p" * 65}),
    ("properties", {"properties": ["not", "an", "object"]}),
    ("properties", {"properties": {"blob": "x" * 5000}}),
    ("properties", {"properties": {"path": 12}}),
]


@pytest.mark.parametrize(("field", "change"), ENVELOPE_ERRORS)
def test_each_wrong_envelope_field_is_rejected_by_name_and_stores_nothing(field, change) -> None:
    result = events_ingest(source="lms", items=[ev(**change)])

    assert result.accepted == 0
    assert list(result.rejected) == [0]
    assert field in result.rejected[0]
    assert not Event.objects.exists()
    assert not User.objects.exists()


def test_occurred_at_needs_an_offset_and_may_be_slightly_in_the_future() -> None:
    soon = (timezone.now() + timedelta(minutes=2)).isoformat()
    later = (timezone.now() + timedelta(minutes=10)).isoformat()
    result = events_ingest(
        source="lms",
        items=[
            ev("naive", occurred_at="2026-03-02T11:00:00"),
            ev("zulu", occurred_at="2026-03-02T09:00:00Z"),
            ev("soon", occurred_at=soon),
            ev("later", occurred_at=later),
            ev("aware-datetime", occurred_at=T0),
        ],
    )

    assert result.rejected[0] == {
        "occurred_at": ["The date-time must include a UTC offset, e.g. +02:00 or Z."]
    }
    assert "future" in result.rejected[3]["occurred_at"][0]
    assert result.accepted == 3
    assert Event.objects.get(client_id="zulu").occurred_at == T0
    assert Event.objects.get(client_id="aware-datetime").occurred_at == T0


@pytest.mark.parametrize(
    ("event_type", "properties", "message"),
    [
        ("quiz_submitted", {"score": 12, "max_score": 10}, "must not exceed max_score"),
        ("quiz_submitted", {"score": 5}, "max_score is required"),
        ("quiz_submitted", {"score": 5, "max_score": 0}, "max_score must be greater than 0"),
        ("quiz_submitted", {"score": "5", "max_score": 10}, "score must be a number"),
        ("purchase", {"amount": 10, "currency": "eur"}, "currency"),
        ("purchase", {"amount": 10, "currency": "EURO"}, "currency"),
        ("purchase", {"amount": -1, "currency": "EUR"}, "amount must be at least 0"),
        ("purchase", {"currency": "EUR"}, "amount is required"),
        ("video_progress", {"percent": 101}, "percent must be at most 100"),
        ("video_progress", {"percent": -1}, "percent must be at least 0"),
        ("video_progress", {}, "percent is required"),
        ("video_progress", {"percent": True}, "percent must be a number"),
        ("review_posted", {"rating": 6}, "rating must be at most 5"),
        ("session_end", {"duration_seconds": -3}, "duration_seconds must be at least 0"),
    ],
)
def test_properties_are_checked_per_type(event_type, properties, message) -> None:
    result = events_ingest(
        source="lms", items=[ev(type=event_type, properties=properties, lesson=None)]
    )

    assert result.accepted == 0
    assert any(message in text for text in result.rejected[0]["properties"])


def test_valid_properties_keep_unknown_extra_keys() -> None:
    result = events_ingest(
        source="lms",
        items=[
            ev("q", type="quiz_submitted", properties={"score": 7, "max_score": 10, "seed": 3}),
            ev("p", type="purchase", properties={"amount": 19.9, "currency": "EUR"}),
            ev("v", type="video_progress", properties={"percent": 100, "position_seconds": 60}),
        ],
    )

    assert result.accepted == 3, result.rejected
    assert Event.objects.get(client_id="q").properties == {"score": 7, "max_score": 10, "seed": 3}


def test_custom_types_take_free_form_properties() -> None:
    result = events_ingest(
        source="lms",
        items=[ev(type="x-certificate-shared", properties={"network": "linkedin", "n": [1, 2]})],
    )

    assert result.accepted == 1
    assert Event.objects.get().properties == {"network": "linkedin", "n": [1, 2]}


def test_unknown_type_message_lists_the_accepted_types() -> None:
    result = events_ingest(source="lms", items=[ev(type="lesson_finished")])

    message = result.rejected[0]["type"][0]
    assert "lesson_finished" in message
    for name in ("lesson_completed", "quiz_submitted", "purchase", "x-"):
        assert name in message


def test_mixed_batch_stores_the_valid_items_and_lists_the_rest_by_index() -> None:
    result = events_ingest(
        source="lms",
        items=[ev("a"), ev("b"), ev("c", device="fridge"), "not an object", ev("d")],
    )

    assert result.accepted == 3
    assert set(result.rejected) == {2, 3}
    assert "device" in result.rejected[2]
    assert set(Event.objects.values_list("client_id", flat=True)) == {"a", "b", "d"}


def test_replayed_batch_stores_nothing_new_and_lists_all_as_duplicates() -> None:
    batch = [ev(f"e{i}", occurred_at=at(i)) for i in range(5)]
    first = events_ingest(source="lms", items=batch)
    again = events_ingest(source="lms", items=batch)

    assert first.accepted == 5
    assert (again.accepted, again.duplicates, again.rejected) == (0, [0, 1, 2, 3, 4], {})
    assert Event.objects.count() == 5


def test_duplicate_ids_within_one_batch_store_the_first_only() -> None:
    result = events_ingest(
        source="lms", items=[ev("same", occurred_at=at(1)), ev("other"), ev("same", type="login")]
    )

    assert (result.accepted, result.duplicates) == (2, [2])
    assert Event.objects.get(client_id="same").type == "page_view"


def test_the_same_id_from_another_source_is_another_event() -> None:
    events_ingest(source="lms", items=[ev("e1")])
    result = events_ingest(source="mobile-app", items=[ev("e1")])

    assert result.accepted == 1
    assert Event.objects.count() == 2


# --- lessons --------------------------------------------------------------------------------


def test_unknown_lesson_is_created_in_the_events_course_or_rejected_without_one() -> None:
    result = events_ingest(
        source="lms",
        items=[
            ev("a", type="lesson_started", lesson="l1"),
            ev("b", type="lesson_started", lesson="l2", course=None),
            ev("c", type="lesson_completed", lesson="l1", course=None),
        ],
    )

    assert result.accepted == 2
    assert list(result.rejected) == [1] and "lesson" in result.rejected[1]
    lesson = Lesson.objects.get(external_id="l1")
    assert lesson.provisional and lesson.course.external_id == "c1"
    # An event naming only a known lesson is filed under that lesson's course.
    assert Event.objects.get(client_id="c").course_id == lesson.course_id
    assert not Lesson.objects.filter(external_id="l2").exists()


def test_lesson_of_another_course_is_rejected() -> None:
    courses_upsert(items=[{"external_id": "c1", "title": "A"}, {"external_id": "c2", "title": "B"}])
    lessons_upsert(items=[{"external_id": "l1", "course": "c1", "title": "Intro"}])

    result = events_ingest(
        source="lms", items=[ev(type="lesson_started", lesson="l1", course="c2")]
    )

    assert result.accepted == 0 and "lesson" in result.rejected[0]


def test_lesson_events_need_a_lesson_and_course_events_a_course() -> None:
    result = events_ingest(
        source="lms",
        items=[
            ev("a", type="lesson_completed"),
            ev("b", type="course_completed", course=None),
            ev("c", type="quiz_submitted", properties={"score": 1, "max_score": 2}),
        ],
    )

    assert "lesson" in result.rejected[0] and "course" in result.rejected[1]
    assert result.accepted == 1


# --- follow-ups -----------------------------------------------------------------------------


def test_lesson_progress_follows_started_video_and_completed_events() -> None:
    def send(client_id: str, event_type: str, hours: float, **properties: Any) -> None:
        item = ev(client_id, type=event_type, lesson="l1", occurred_at=at(hours))
        item["properties"] = properties
        assert events_ingest(source="lms", items=[item]).accepted == 1

    send("s", "lesson_started", 2)
    progress = LessonProgress.objects.get()
    assert (progress.started_at, progress.completed_at, progress.percent) == (at_dt(2), None, 0)

    send("v1", "video_progress", 3, percent=40.4)
    send("v2", "video_progress", 4, percent=30)  # rewatching does not lower progress
    progress.refresh_from_db()
    assert progress.percent == 40

    send("done", "lesson_completed", 5)
    send("early", "lesson_started", 1)  # a backfilled earlier start moves started_at back
    progress.refresh_from_db()
    assert (progress.started_at, progress.completed_at, progress.percent) == (
        at_dt(1),
        at_dt(5),
        100,
    )
    assert LessonProgress.objects.count() == 1


def at_dt(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_provisional_enrollment_starts_at_the_earliest_event_seen() -> None:
    events_ingest(source="lms", items=[ev("a", occurred_at=at(5)), ev("b", occurred_at=at(3))])
    assert Enrollment.objects.get().enrolled_at == at_dt(3)

    events_ingest(source="lms", items=[ev("c", occurred_at=at(1))])
    assert Enrollment.objects.get().enrolled_at == at_dt(1)


def test_synced_enrollment_keeps_its_own_start() -> None:
    users_upsert(items=[{"external_id": "u1", "email": "ada@example.com"}])
    courses_upsert(items=[{"external_id": "c1", "title": "Python"}])
    enrollments_upsert(items=[{"user": "u1", "course": "c1", "enrolled_at": at_dt(10)}])

    events_ingest(source="lms", items=[ev(occurred_at=at(1))])

    enrollment = Enrollment.objects.get()
    assert enrollment.enrolled_at == at_dt(10) and not enrollment.provisional


def test_course_completed_and_enrollment_withdrawn_change_the_enrollment() -> None:
    events_ingest(source="lms", items=[ev("a", occurred_at=at(1), course="c1")])
    events_ingest(
        source="lms",
        items=[
            ev("done", type="course_completed", occurred_at=at(5), properties={}),
            ev(
                "quit",
                type="enrollment_withdrawn",
                course="c2",
                occurred_at=at(6),
                properties={"reason": "no time"},
            ),
        ],
    )

    completed = Enrollment.objects.get(course__external_id="c1")
    withdrawn = Enrollment.objects.get(course__external_id="c2")
    assert (completed.status, completed.completed_at) == ("completed", at_dt(5))
    assert (withdrawn.status, withdrawn.withdrawn_at) == ("withdrawn", at_dt(6))

    # A completion older than the withdrawal is history already overtaken.
    events_ingest(
        source="lms", items=[ev("old", type="course_completed", course="c2", occurred_at=at(2))]
    )
    withdrawn.refresh_from_db()
    assert withdrawn.status == "withdrawn"


HANDLED: list[list[EventRecord]] = []


def record_events(events: list[EventRecord]) -> None:
    HANDLED.append(list(events))


@override_settings(STRIDE_EVENT_HANDLERS=["tests.engagement.test_ingestion.record_events"])
def test_handlers_receive_exactly_the_new_events_once() -> None:
    HANDLED.clear()
    batch = [ev("a", occurred_at=at(1)), ev("b", occurred_at=at(2))]

    events_ingest(source="lms", items=batch)
    events_ingest(source="lms", items=batch)  # replay: nothing new, no call
    events_ingest(source="lms", items=[*batch, ev("c", occurred_at=at(3))])

    assert [[e.client_id for e in call] for call in HANDLED] == [["a", "b"], ["c"]]
    stored = Event.objects.get(client_id="a")
    # A plain frozen record with the stored event's fields, not a model instance.
    assert HANDLED[0][0] == EventRecord(
        id=stored.pk,
        source="lms",
        client_id="a",
        type="page_view",
        user_id=User.objects.get(external_id="u1").pk,
        course_id=Course.objects.get(external_id="c1").pk,
        lesson_id=None,
        occurred_at=at_dt(1),
        received_at=stored.received_at,
        session_id="s-1",
        device="mobile",
        platform="ios",
        properties={"path": "/home"},
    )
    with pytest.raises(FrozenInstanceError):
        HANDLED[0][0].user_id = 0  # type: ignore[misc]


def explode(events: list[EventRecord]) -> None:
    raise RuntimeError("handler failed")


@override_settings(STRIDE_EVENT_HANDLERS=["tests.engagement.test_ingestion.explode"])
def test_a_failing_handler_leaves_nothing_half_written() -> None:
    with pytest.raises(RuntimeError):
        events_ingest(source="lms", items=[ev(type="lesson_started", lesson="l1")])

    assert not Event.objects.exists()
    assert not LessonProgress.objects.exists() and not Enrollment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_of_the_same_batch_store_it_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the unique constraint race needs PostgreSQL")
    batch = [ev(f"e{i}", user=f"u{i % 7}", occurred_at=at(i)) for i in range(300)]
    results = []
    barrier = threading.Barrier(3)

    def send() -> None:
        try:
            barrier.wait()
            results.append(events_ingest(source="lms", items=batch))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.accepted for r in results) == [0, 0, 300]
    assert Event.objects.count() == 300
    assert User.objects.count() == 7


@pytest.mark.django_db(transaction=True)
def test_a_batch_failed_by_a_deadlock_is_retried_and_stored_once() -> None:
    """A real deadlock: another writer holds event "b" and then wants "a", which the batch
    (inserting in client-id order) has taken while it waits for "b". PostgreSQL fails the
    batch, the one that waited first; the batch runs again and stores everything once."""
    needs_postgresql()
    users_upsert(items=[{"external_id": "u1", "email": "u1@example.com"}])
    user = User.objects.get(external_id="u1")
    holding_b, take_a = threading.Event(), threading.Event()
    batch_pid: list[int] = []
    outcome: dict[str, Any] = {}

    def other_writer() -> None:
        try:
            with transaction.atomic():
                Event.objects.create(
                    source="lms", client_id="b", type="page_view", user=user, occurred_at=T0
                )
                holding_b.set()
                take_a.wait(timeout=30)
                # Waits for the batch's "a"; goes through only once the batch is rolled back.
                Event.objects.create(
                    source="lms", client_id="a", type="page_view", user=user, occurred_at=T0
                )
                outcome["writer"] = "took a"
                transaction.set_rollback(True)  # leave both ids to the batch's second attempt
        except Exception as exc:
            outcome["writer"] = exc
        finally:
            holding_b.set()
            connections.close_all()

    def send_batch() -> None:
        try:
            batch_pid.append(backend_pid())
            items = [ev("a"), ev("b"), ev("c", lesson="l9", course=None)]
            outcome["batch"] = events_ingest(source="lms", items=items)
        except Exception as exc:
            outcome["batch"] = exc
        finally:
            connections.close_all()

    writer = threading.Thread(target=other_writer)
    batch = threading.Thread(target=send_batch)
    writer.start()
    try:
        holding_b.wait(timeout=30)
        batch.start()
        while not batch_pid and batch.is_alive():
            time.sleep(0.001)
        wait_until_blocked(batch_pid[0])  # the batch holds "a" and waits for "b"
    finally:
        take_a.set()
        writer.join()
        if batch.is_alive():
            batch.join()

    # The writer got "a" only because the batch's first attempt was rolled back (the
    # deadlock's victim); the batch still answered normally, so its second attempt did it all.
    assert outcome["writer"] == "took a"
    result = outcome["batch"]
    assert result.accepted == 2 and result.duplicates == [] and list(result.rejected) == [2]
    assert sorted(Event.objects.values_list("client_id", flat=True)) == ["a", "b"]


# --- large batches (imports): a plain insert first, follow-ups merged in SQL ----------------


def filler(count: int, prefix: str) -> list[dict[str, Any]]:
    """`count` page views from a few learners, enough to make a batch an import-sized one."""
    return [ev(f"{prefix}{i}", user=f"u{i % 5}", occurred_at=at(i / 100)) for i in range(count)]


@override_settings(STRIDE_EVENT_HANDLERS=["tests.engagement.test_ingestion.record_events"])
def test_large_batch_merges_progress_per_lesson_and_hands_over_every_event() -> None:
    HANDLED.clear()
    lesson = {"lesson": "l1", "course": "c1", "user": "u9"}
    items = [
        ev("v1", type="video_progress", occurred_at=at(3), properties={"percent": 40.4}, **lesson),
        ev("v2", type="video_progress", occurred_at=at(2), properties={"percent": 25}, **lesson),
        ev("done", type="lesson_completed", occurred_at=at(6), properties={}, **lesson),
        ev("done2", type="lesson_completed", occurred_at=at(5), properties={}, **lesson),
        *filler(PROBE_MAX_ROWS + 100, "f"),
    ]

    result = events_ingest(source="lms", items=items)

    assert (result.accepted, result.duplicates) == (len(items), [])
    progress = LessonProgress.objects.get(user__external_id="u9")
    assert (progress.started_at, progress.completed_at, progress.percent) == (
        at_dt(2),
        at_dt(5),
        100,
    )
    handled = HANDLED[0]
    assert len(HANDLED) == 1 and len(handled) == len(items)
    stored = dict(Event.objects.values_list("client_id", "id"))
    assert all(event.id == stored[event.client_id] for event in handled)
    users = dict(User.objects.values_list("id", "external_id"))
    assert {users[event.user_id] for event in handled} == {"u0", "u1", "u2", "u3", "u4", "u9"}


@override_settings(STRIDE_EVENT_HANDLERS=["tests.engagement.test_ingestion.record_events"])
def test_large_batch_partly_seen_before_follows_up_only_its_new_events() -> None:
    events_ingest(
        source="lms",
        items=[
            ev("old-done", type="course_completed", user="u9", occurred_at=at(1)),
            ev("old-view", user="u9", occurred_at=at(1)),
        ],
    )
    # The integrator reopens the enrollment; replaying the old completion must not undo that.
    enrollments_upsert(items=[{"user": "u9", "course": "c1", "status": "active"}])
    HANDLED.clear()
    items = [
        *filler(PROBE_MAX_ROWS + 100, "f"),
        ev("old-done", type="course_completed", user="u9", occurred_at=at(1)),
        ev("new-view", user="u9", occurred_at=at(2)),
        ev("old-view", user="u9", occurred_at=at(1)),
    ]

    result = events_ingest(source="lms", items=items)

    assert result.accepted == len(items) - 2
    assert result.duplicates == [len(items) - 3, len(items) - 1]
    assert Event.objects.count() == len(items)
    assert Enrollment.objects.get(user__external_id="u9").status == "active"
    assert [len(call) for call in HANDLED] == [len(items) - 2]
    assert {e.client_id for e in HANDLED[0]} == {i["id"] for i in items} - {"old-done", "old-view"}
    u9 = User.objects.get(external_id="u9").pk
    assert all(e.user_id == u9 for e in HANDLED[0] if e.client_id == "new-view")

    again = events_ingest(source="lms", items=items)  # a replay of the whole batch
    assert again.accepted == 0 and len(again.duplicates) == len(items)
    assert Event.objects.count() == len(items)
