"""Live sessions and registrations: upserted through the API like lessons, attendance folded
in from the learners' events by ingestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.models import Event
from engagement.services.ingestion import events_ingest
from learning.models import LiveSession, LiveSessionRegistration

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def catalogue(integrator):
    integrator.post(
        "/api/v1/users/bulk/",
        {
            "items": [
                {"external_id": "stu", "email": "s@example.com"},
                {"external_id": "stu2", "email": "s2@example.com"},
            ]
        },
        format="json",
    )
    integrator.put("/api/v1/courses/py101/", {"title": "Python 101"}, format="json")
    integrator.post(
        "/api/v1/live-sessions/bulk/",
        {
            "items": [
                {
                    "external_id": "ls-1",
                    "course": "py101",
                    "title": "Office hour",
                    "starts_at": T0.isoformat(),
                    "duration_minutes": 45,
                },
                {
                    "external_id": "ls-2",
                    "course": "py101",
                    "title": "Office hour 2",
                    "starts_at": (T0 + timedelta(days=7)).isoformat(),
                },
            ]
        },
        format="json",
    )
    return integrator


def test_live_session_put_creates_then_updates_keeping_fields_left_out(catalogue):
    response = catalogue.put(
        "/api/v1/live-sessions/ls-3/",
        {"course": "py101", "title": "Lab", "starts_at": "2026-03-10T18:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["course"] == "py101"
    assert response.json()["duration_minutes"] == 60

    response = catalogue.put("/api/v1/live-sessions/ls-3/", {"status": "cancelled"}, format="json")

    assert response.status_code == 200
    session = LiveSession.objects.get(external_id="ls-3")
    assert (session.title, session.status) == ("Lab", "cancelled")
    listed = catalogue.get("/api/v1/live-sessions/?course=py101").json()["results"]
    assert [s["external_id"] for s in listed] == ["ls-1", "ls-2", "ls-3"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "X", "starts_at": "2026-03-10T18:00:00Z"}, "course"),
        ({"course": "ghost", "title": "X", "starts_at": "2026-03-10T18:00:00Z"}, "course"),
        ({"course": "py101", "starts_at": "2026-03-10T18:00:00Z"}, "title"),
        ({"course": "py101", "title": "X"}, "starts_at"),
        ({"course": "py101", "title": "X", "starts_at": "soon"}, "starts_at"),
        (
            {"course": "py101", "title": "X", "starts_at": "2026-03-10T18:00Z", "status": "gone"},
            "status",
        ),
        (
            {
                "course": "py101",
                "title": "X",
                "starts_at": "2026-03-10T18:00Z",
                "duration_minutes": 0,
            },
            "duration_minutes",
        ),
    ],
)
def test_live_session_put_names_the_bad_field(catalogue, body, field):
    response = catalogue.put("/api/v1/live-sessions/ls-bad/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not LiveSession.objects.filter(external_id="ls-bad").exists()


def test_bulk_registrations_are_all_or_nothing_with_errors_by_index(catalogue):
    response = catalogue.post(
        "/api/v1/live-session-registrations/bulk/",
        {
            "items": [
                {"session": "ls-1", "user": "stu"},
                {"session": "ls-9", "user": "stu2"},
                {"session": "ls-2", "user": "ghost"},
                {"session": "ls-2", "user": "stu", "rescheduled_from": "ls-2"},
            ]
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["fields"]["items"]
    assert set(errors) == {"1", "2", "3"}
    assert "session" in errors["1"] and "user" in errors["2"]
    assert "rescheduled_from" in errors["3"]
    assert not LiveSessionRegistration.objects.exists()


def test_registrations_upsert_by_session_and_user_and_record_reschedules(catalogue):
    first = catalogue.post(
        "/api/v1/live-session-registrations/bulk/",
        {"items": [{"session": "ls-1", "user": "stu"}, {"session": "ls-1", "user": "stu2"}]},
        format="json",
    )
    assert first.json() == {"created": 2, "updated": 0}

    moved = catalogue.put(
        "/api/v1/live-session-registrations/ls-1/stu/", {"status": "rescheduled"}, format="json"
    )
    new = catalogue.put(
        "/api/v1/live-session-registrations/ls-2/stu/", {"rescheduled_from": "ls-1"}, format="json"
    )

    assert moved.status_code == 200 and moved.json()["status"] == "rescheduled"
    assert new.status_code == 201
    assert new.json()["rescheduled_from"] == "ls-1" and new.json()["attended"] is None
    assert LiveSessionRegistration.objects.count() == 3
    mine = catalogue.get("/api/v1/live-session-registrations/?user=stu").json()["results"]
    assert {(r["session"], r["status"]) for r in mine} == {
        ("ls-1", "rescheduled"),
        ("ls-2", "registered"),
    }


def test_live_session_endpoints_need_the_courses_scopes(catalogue, make_key):
    reader = make_key("courses:read")
    assert reader.get("/api/v1/live-sessions/").status_code == 200
    response = reader.put("/api/v1/live-sessions/ls-1/", {"title": "Renamed"}, format="json")
    assert response.status_code == 403
    assert make_key("events:write").get("/api/v1/live-session-registrations/").status_code == 403


def _attendance(client_id: str, kind: str, user: str, session: str, hours: float) -> dict:
    event: dict[str, Any] = {
        "id": client_id,
        "type": f"live_session_{kind}",
        "user": user,
        "course": "py101",
        "occurred_at": (T0 + timedelta(hours=hours)).isoformat(),
        "properties": {"live_session": session},
    }
    if kind == "attended":
        event["properties"]["duration_seconds"] = 1800
    return event


def test_ingestion_marks_attendance_idempotently(catalogue):
    catalogue.post(
        "/api/v1/live-session-registrations/bulk/",
        {"items": [{"session": "ls-1", "user": "stu"}, {"session": "ls-1", "user": "stu2"}]},
        format="json",
    )
    batch = [
        _attendance("a1", "attended", "stu", "ls-1", 0.5),
        _attendance("m1", "missed", "stu2", "ls-1", 1),
        _attendance("x1", "attended", "stu", "ls-unknown", 1),
    ]

    events_ingest(source="lms", items=batch)
    events_ingest(source="lms", items=batch)

    outcome = dict(LiveSessionRegistration.objects.values_list("user__external_id", "attended"))
    assert outcome == {"stu": True, "stu2": False}
    before = list(LiveSessionRegistration.objects.values_list("updated_at", flat=True))
    events_ingest(source="other", items=batch)  # the same facts from another source
    assert list(LiveSessionRegistration.objects.values_list("updated_at", flat=True)) == before


def test_attending_after_a_recorded_miss_counts_as_attended_and_walk_ins_are_kept(catalogue):
    catalogue.put("/api/v1/live-session-registrations/ls-1/stu/", {}, format="json")
    events_ingest(source="lms", items=[_attendance("m1", "missed", "stu", "ls-1", 1)])
    events_ingest(
        source="lms",
        items=[
            _attendance("a1", "attended", "stu", "ls-1", 0.2),
            _attendance("a2", "attended", "stu2", "ls-1", 0.1),
            _attendance("m2", "missed", "stu", "ls-1", 2),
        ],
    )

    regs = {r.user.external_id: r for r in LiveSessionRegistration.objects.select_related("user")}
    assert regs["stu"].attended is True
    assert regs["stu"].outcome_at == T0 + timedelta(hours=0.2)
    assert regs["stu2"].attended is True  # walked in without registering
    assert regs["stu2"].registered_at == T0 + timedelta(hours=0.1)


def test_a_miss_of_a_session_the_learner_never_registered_for_records_no_registration(catalogue):
    events_ingest(source="lms", items=[_attendance("m1", "missed", "stu", "ls-1", 1)])
    assert not LiveSessionRegistration.objects.exists()
    assert Event.objects.filter(type="live_session_missed").count() == 1  # the event is kept
    # Attending later is a walk-in all the same.
    events_ingest(source="lms", items=[_attendance("a1", "attended", "stu", "ls-1", 1.5)])
    assert list(LiveSessionRegistration.objects.values_list("attended", flat=True)) == [True]
