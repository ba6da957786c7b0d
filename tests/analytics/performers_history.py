"""A generated history for the star-performer tests: 50 learners in Algebra from weak to
strong (the strong ones active daily, finishing lessons and watching videos; the weak ones
rarely seen), 12 of them also in Biology and 2 in Chemistry without any activity there.

Learners, courses and enrollments come from their apps' factories; the events are inserted in
one go, as ingestion stores them (as tests/engagement/history.py does), up to yesterday.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from accounts.models import User
from engagement.models import Event
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

LEARNERS = 50
HISTORY_DAYS = 35


@dataclass
class PerformersHistory:
    algebra: object
    biology: object
    chemistry: object
    learners: list[User]  # weakest first
    instructors: list[User]  # of Algebra, Biology, Chemistry


def make_performers_history() -> PerformersHistory:
    today = timezone.now().astimezone(datetime.UTC).date()
    midnight = datetime.datetime.combine(today, datetime.time(), datetime.UTC)
    instructors = [
        UserFactory(role=User.Role.INSTRUCTOR, first_name=name, last_name="Teacher")
        for name in ("Ada", "Ben", "Cleo")
    ]
    algebra = CourseFactory(external_id="algebra-1", title="Algebra I", instructor=instructors[0])
    biology = CourseFactory(external_id="biology-1", title="Biology", instructor=instructors[1])
    chemistry = CourseFactory(external_id="chem-1", title="Chemistry", instructor=instructors[2])
    enrolled = midnight - datetime.timedelta(days=HISTORY_DAYS + 5)
    learners = []
    events: list[Event] = []
    for i in range(LEARNERS):
        user = UserFactory(first_name=f"L{i:02d}", last_name="Learner")
        learners.append(user)
        EnrollmentFactory(user=user, course=algebra, enrolled_at=enrolled)
        if i < 12:
            EnrollmentFactory(user=user, course=biology, enrolled_at=enrolled)
        if i >= LEARNERS - 2:
            EnrollmentFactory(user=user, course=chemistry, enrolled_at=enrolled)
        strength = i / (LEARNERS - 1)
        last = 1 + int(25 * (1 - strength))  # days ago of the last activity
        gap = 1 + int(6 * (1 - strength))  # active every `gap` days
        for ago in range(last, HISTORY_DAYS, gap):
            at = midnight - datetime.timedelta(days=ago) + datetime.timedelta(hours=10)
            kinds = ["login"]
            if strength > 0.3:
                kinds.append("lesson_completed")
            if strength >= 0.5:
                kinds += ["video_progress", "video_progress"]
            for k, kind in enumerate(kinds):
                events.append(
                    Event(
                        source="perf",
                        client_id=f"{user.pk}-{ago}-{k}",
                        type=kind,
                        user=user,
                        course=algebra,
                        occurred_at=at + datetime.timedelta(minutes=k),
                        properties={"percent": 90} if kind == "video_progress" else {},
                    )
                )
    Event.objects.bulk_create(events, batch_size=5000)
    return PerformersHistory(algebra, biology, chemistry, learners, instructors)
