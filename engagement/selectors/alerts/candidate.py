"""What every alert rule's finder returns, and the enrolment filter most of them share."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Q, QuerySet

from learning.models import Enrollment

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class AlertCandidate:
    """A learner a rule matches, with the words and numbers the alert will carry."""

    user_id: int
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    course_id: int | None = None


CandidateFinder = Callable[[datetime.datetime, Mapping[str, Any]], list[AlertCandidate]]


def active_enrollments(*, on: datetime.date | None = None) -> QuerySet[Enrollment]:
    """Active enrolments of the outer query's learner (an OuterRef on user_id).

    With ``on``, only those in courses that have not ended by that date.
    """
    enrollments = Enrollment.objects.filter(
        user_id=OuterRef("user_id"), status=Enrollment.Status.ACTIVE
    )
    if on is not None:
        # A course that has ended is no sign that the learner should still be coming.
        enrollments = enrollments.filter(
            Q(course__ends_on__isnull=True) | Q(course__ends_on__gte=on)
        )
    return enrollments
