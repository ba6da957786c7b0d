"""Reads for the live-sessions page and the no-shows API: upcoming sessions with their
registrations and stored no-show predictions, and the model card."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import QuerySet

from analytics.models import NoShowModel, NoShowPrediction
from learning.models import Course, LiveSession, LiveSessionRegistration

UPCOMING_DAYS = 7
# Where the page's colours change (the alert's own threshold is the rule's, in the admin).
HIGH_PROBABILITY = 0.5
MEDIUM_PROBABILITY = 0.3


@dataclass(frozen=True)
class RegistrationRisk:
    """A learner registered for an upcoming session and their predicted no-show risk."""

    registration_id: int
    user_external_id: str
    user_name: str
    registered_at: datetime.datetime
    probability: float | None  # None: not predicted yet (beyond the prediction window)
    source: str
    reasons: list[str]
    predicted_at: datetime.datetime | None

    @property
    def percent(self) -> int | None:
        return None if self.probability is None else round(self.probability * 100)

    @property
    def level(self) -> str:
        """The engagement level colour the risk is shown in."""
        if self.probability is None:
            return ""
        if self.probability >= HIGH_PROBABILITY:
            return "critical"
        return "medium" if self.probability >= MEDIUM_PROBABILITY else "low"


@dataclass(frozen=True)
class UpcomingSession:
    session_id: int
    external_id: str
    title: str
    course_external_id: str
    course_title: str
    starts_at: datetime.datetime
    duration_minutes: int
    registrations: list[RegistrationRisk] = field(default_factory=list)

    @property
    def expected_no_shows(self) -> float:
        return sum(r.probability or 0 for r in self.registrations)

    @property
    def predicted(self) -> int:
        return sum(1 for r in self.registrations if r.probability is not None)


def upcoming_sessions(
    *,
    now: datetime.datetime,
    courses: QuerySet[Course] | None = None,
    course: Course | None = None,
    days: int = UPCOMING_DAYS,
) -> list[UpcomingSession]:
    """Scheduled sessions starting within `days` (of `course`, or of `courses`, or all), soonest
    first, each with its registered learners riskiest first. Three queries, whatever the
    number of sessions and learners."""
    sessions = LiveSession.objects.filter(
        status=LiveSession.Status.SCHEDULED,
        starts_at__gt=now,
        starts_at__lte=now + datetime.timedelta(days=days),
    ).select_related("course")
    if course is not None:
        sessions = sessions.filter(course=course)
    elif courses is not None:
        sessions = sessions.filter(course__in=courses)
    out = {
        s.pk: UpcomingSession(
            session_id=s.pk,
            external_id=s.external_id,
            title=s.title,
            course_external_id=s.course.external_id,
            course_title=s.course.title,
            starts_at=s.starts_at,
            duration_minutes=s.duration_minutes,
        )
        for s in sessions.order_by("starts_at", "id")
    }
    if not out:
        return []
    registrations = list(
        LiveSessionRegistration.objects.filter(
            session_id__in=list(out), status=LiveSessionRegistration.Status.REGISTERED
        )
        .select_related("user")
        .only(
            "id",
            "session_id",
            "registered_at",
            "user__external_id",
            "user__email",
            "user__first_name",
            "user__last_name",
        )
    )
    predictions = {
        p.registration_id: p
        for p in NoShowPrediction.objects.filter(
            registration_id__in=[r.pk for r in registrations]
        ).only("registration_id", "probability", "source", "reasons", "predicted_at")
    }
    for reg in registrations:
        p = predictions.get(reg.pk)
        out[reg.session_id].registrations.append(
            RegistrationRisk(
                registration_id=reg.pk,
                user_external_id=reg.user.external_id,
                user_name=reg.user.get_full_name() or reg.user.email,
                registered_at=reg.registered_at,
                probability=p.probability if p else None,
                source=p.source if p else "",
                reasons=list(p.reasons) if p else [],
                predicted_at=p.predicted_at if p else None,
            )
        )
    for session in out.values():
        session.registrations.sort(
            key=lambda r: (r.probability is None, -(r.probability or 0), r.user_external_id)
        )
    return list(out.values())


def no_show_model_card() -> NoShowModel | None:
    """The latest training attempt without its stored classifier; one query."""
    return NoShowModel.objects.defer("fitted").order_by("-id").first()


@dataclass(frozen=True)
class PredictedRow:
    """One predicted registration of an upcoming session, for the API's flat list."""

    session: UpcomingSession
    registration: RegistrationRisk


def predicted_rows(
    *, now: datetime.datetime, course: Course | None, days: int
) -> list[PredictedRow]:
    """Every predicted registration of the sessions starting within `days` (of `course`, or
    all), riskiest first, then soonest, then by learner. The queries of upcoming_sessions."""
    rows = [
        PredictedRow(session, r)
        for session in upcoming_sessions(now=now, course=course, days=days)
        for r in session.registrations
        if r.probability is not None
    ]
    rows.sort(
        key=lambda row: (
            -(row.registration.probability or 0.0),
            row.session.starts_at,
            row.registration.user_external_id,
        )
    )
    return rows


def prediction_source(card: NoShowModel | None) -> str:
    """Which predictor makes the predictions while `card` is the latest training attempt:
    the model only if that attempt beat the baseline (a newer loser retires an older winner)."""
    if card is not None and card.in_use:
        return NoShowPrediction.Source.MODEL
    return NoShowPrediction.Source.BASELINE
