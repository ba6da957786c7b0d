"""Reads for the catalogue."""

import datetime

from django.db.models import Count, QuerySet

from accounts.models import User
from learning.models import (
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    LiveSession,
    LiveSessionRegistration,
)


def course_list() -> QuerySet[Course]:
    """Courses with their instructor and lesson count."""
    return Course.objects.select_related("instructor").annotate(lesson_count=Count("lessons"))


def lesson_list() -> QuerySet[Lesson]:
    """Lessons with their course, in course order."""
    return Lesson.objects.select_related("course").order_by("course_id", "position", "id")


def enrollment_list(*, viewer: User | None = None) -> QuerySet[Enrollment]:
    """Enrollments with user and course; a non-staff viewer sees only their own."""
    enrollments = Enrollment.objects.select_related("user", "course").order_by("id")
    if viewer is not None and not viewer.is_staff:
        enrollments = enrollments.filter(user=viewer)
    return enrollments


def lesson_progress_completed(
    *, user_ids: list[int], lesson_ids: list[int]
) -> list[tuple[int, int]]:
    """(user id, lesson id) of the completed lessons among these learners and lessons."""
    if not user_ids or not lesson_ids:
        return []
    return list(
        LessonProgress.objects.filter(
            user_id__in=user_ids, lesson_id__in=lesson_ids, completed_at__isnull=False
        ).values_list("user_id", "lesson_id")
    )


def live_session_list() -> QuerySet[LiveSession]:
    """Live sessions with their course, soonest first."""
    return LiveSession.objects.select_related("course").order_by("starts_at", "id")


def live_registration_list(*, viewer: User | None = None) -> QuerySet[LiveSessionRegistration]:
    """Registrations with session, user and the session moved from; a non-staff viewer sees
    only their own."""
    registrations = LiveSessionRegistration.objects.select_related(
        "session", "user", "rescheduled_from"
    ).order_by("id")
    if viewer is not None and not viewer.is_staff:
        registrations = registrations.filter(user=viewer)
    return registrations


def next_live_sessions(
    *, user_ids: list[int], now: datetime.datetime
) -> dict[tuple[int, int], LiveSession]:
    """Per (learner, course), the soonest scheduled session not started yet that the learner
    is registered for. One query."""
    out: dict[tuple[int, int], LiveSession] = {}
    for reg in (
        LiveSessionRegistration.objects.filter(
            user_id__in=user_ids,
            status=LiveSessionRegistration.Status.REGISTERED,
            session__status=LiveSession.Status.SCHEDULED,
            session__starts_at__gt=now,
        )
        .select_related("session")
        .order_by("session__starts_at", "session_id")
    ):
        out.setdefault((reg.user_id, reg.session.course_id), reg.session)
    return out
