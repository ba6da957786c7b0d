"""A small generated history: steady learners keep coming, fading ones slow down and stop.

Learners, courses and enrollments come from their apps' factories; the thousands of events
are inserted in one go, as ingestion stores them but without its follow-ups (and without a
lesson for the completions): the scoring and training tests pin results on exactly this
history.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from engagement.models import Event
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory, EnrollmentFactory

AS_OF = datetime.date(2026, 3, 31)
DAYS = 70  # history length before AS_OF


@dataclass
class History:
    steady_ids: list[int] = field(default_factory=list)
    fading_ids: list[int] = field(default_factory=list)

    @property
    def active_ids(self) -> list[int]:
        return self.steady_ids + self.fading_ids


def make_history(*, n: int, seed: int = 0, courses: int = 4) -> History:
    """Create ``n`` learners over ``courses`` courses with events up to AS_OF (inclusive).

    Half are steady (active on ~60 % of days all along); half fade: active like the steady ones
    until a random day, then ever rarer, then gone. Timezones vary.
    """
    rng = np.random.default_rng(seed)
    start = datetime.datetime.combine(
        AS_OF - datetime.timedelta(days=DAYS - 1), datetime.time(), datetime.UTC
    )
    cs = [CourseFactory() for _ in range(courses)]
    history = History()
    events: list[Event] = []
    zones = ["UTC", "Europe/Berlin", "Asia/Tokyo", "America/New_York"]
    for i in range(n):
        user = UserFactory(timezone=zones[i % len(zones)])
        course = cs[i % courses]
        fading = i % 2 == 1
        joined = int(rng.integers(0, 20))
        EnrollmentFactory(
            user=user, course=course, enrolled_at=start + datetime.timedelta(days=joined)
        )
        stop = int(rng.integers(joined + 10, DAYS + 5)) if fading else DAYS + 100
        for day in range(joined, DAYS):
            rate = 0.6 if day < stop - 7 else (0.25 if day < stop else 0.0)
            if rng.random() < rate:
                for k in range(int(rng.integers(1, 5))):
                    events.append(
                        Event(
                            source="hist",
                            client_id=f"{user.pk}-{day}-{k}",
                            type=["login", "page_view", "lesson_completed", "x-note"][k % 4],
                            user=user,
                            course=course,
                            occurred_at=start
                            + datetime.timedelta(days=day, hours=int(rng.integers(8, 20))),
                        )
                    )
        (history.fading_ids if fading else history.steady_ids).append(user.pk)
    Event.objects.bulk_create(events, batch_size=5000)
    # Only learners with at least one event are scored.
    seen = set(Event.objects.values_list("user_id", flat=True).distinct())
    history.steady_ids = [u for u in history.steady_ids if u in seen]
    history.fading_ids = [u for u in history.fading_ids if u in seen]
    return history
