"""Live sessions, registrations and attendance for the no-show tests, written as integrators
and learners write them: the learning services and event ingestion."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from accounts.models import User
from engagement.services.ingestion import events_ingest
from learning.models import Course, LiveSessionRegistration
from learning.services import live_registrations_upsert, live_sessions_upsert


def schedule(
    course: Course, external_id: str, starts_at: datetime.datetime, *, title: str = ""
) -> str:
    live_sessions_upsert(
        items=[
            {
                "external_id": external_id,
                "course": course.external_id,
                "title": title or f"Session {external_id}",
                "starts_at": starts_at,
            }
        ]
    )
    return external_id


def register(
    session: str, users: Sequence[User], *, at: datetime.datetime, status: str = "registered"
) -> None:
    live_registrations_upsert(
        items=[
            {"session": session, "user": u.external_id, "registered_at": at, "status": status}
            for u in users
        ]
    )


def attend(session: str, course: Course, outcomes: dict[User, bool], at: datetime.datetime) -> None:
    """Send the attendance events of a past session (ids derived from session and learner)."""
    events_ingest(
        source="lms",
        items=[
            {
                "id": f"{session}-{user.external_id}",
                "type": "live_session_attended" if attended else "live_session_missed",
                "user": user.external_id,
                "course": course.external_id,
                "occurred_at": at.isoformat(),
                "properties": {"live_session": session},
            }
            for user, attended in outcomes.items()
        ],
    )


def registration(session: str, user: User) -> LiveSessionRegistration:
    return LiveSessionRegistration.objects.get(session__external_id=session, user=user)
