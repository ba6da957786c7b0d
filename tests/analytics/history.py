"""A generated activity history for the analytics tests, and the aggregates recounted from it
in plain Python (no SQL, no Stride code) to check the stored ones against."""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import User
from analytics.models import DailyAggregate, DailyRevenue
from engagement.models import Event
from interventions.models import Delivery
from learning.models import Course, Enrollment
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.engagement.factories import make_events
from tests.interventions.factories import default_template
from tests.learning.factories import CourseFactory, EnrollmentFactory

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
NON_ACTIVITY = {"live_session_missed", "enrollment_withdrawn"}
ACTIVITY_TYPES = ["login", "page_view", "session_start", "quiz_passed", "discussion_post"]
ZONES = ["Asia/Tokyo", "America/New_York", "UTC", "Pacific/Honolulu", "Asia/Kolkata"]
METRICS = (
    "dau",
    "wau",
    "mau",
    "new_learners",
    "events",
    "enrollments",
    "completions",
    "starts",
    "rating_sum",
    "rating_count",
    "median_days_to_complete",
    "messages_sent",
    "messages_opened",
    "messages_clicked",
    "messages_converted",
)
STEPS = ("sent_at", "opened_at", "clicked_at", "converted_at")


@dataclass
class History:
    courses: list[Course]
    learners: dict[str, User]
    today: datetime.date  # UTC date the history is built back from
    late_bloomer: User
    enrolled: dict[int, list[Course]] = field(default_factory=dict)


def utc(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=datetime.UTC)


def build_history(days: int = 45, seed: int = 20261203) -> History:
    """Learners in five timezones, two courses of one instructor (three learners are in
    both), ~`days` days of activity and non-activity."""
    rng = random.Random(seed)
    today = timezone.now().date()
    instructor = InstructorFactory()
    courses = [CourseFactory(instructor=instructor), CourseFactory(instructor=instructor)]
    learners = {tz: UserFactory(timezone=tz) for tz in ZONES}
    enrolled: dict[int, list[Course]] = {}
    for i, user in enumerate(learners.values()):
        mine = courses if i % 2 == 0 else [courses[i % 2]]
        enrolled[user.pk] = mine
        for course in mine:
            at = utc(today - (days + 2 - i) * DAY, 3 + 5 * i, 15)
            if i in (2, 4) and course == courses[0]:
                EnrollmentFactory(
                    user=user,
                    course=course,
                    enrolled_at=at,
                    status=Enrollment.Status.COMPLETED,
                    # UTC's late evening; Kolkata's the same afternoon (two to take a
                    # median of).
                    completed_at=utc(today - 5 * DAY, 23 if i == 2 else 12, 50),
                )
            else:
                EnrollmentFactory(user=user, course=course, enrolled_at=at)
    for user in learners.values():
        specs = []
        for back in range(days, 0, -1):
            if rng.random() > 0.4:
                continue
            for _ in range(rng.randint(1, 3)):
                course = rng.choice([None, *enrolled[user.pk]])
                kind = rng.choice([*ACTIVITY_TYPES, "live_session_missed"])
                at = utc(today - back * DAY, rng.randint(0, 23), rng.randint(0, 59))
                specs.append((kind, at, {}, {"course": course}))
        make_events(user, specs)
    # Across midnight both ways: 23:30 UTC is the next day in Tokyo, 05:00 UTC the day before
    # in Honolulu.
    make_events(
        learners["Asia/Tokyo"],
        [("login", utc(today - 20 * DAY, 23, 30), {}, {"course": courses[0]})],
    )
    make_events(learners["Pacific/Honolulu"], [("page_view", utc(today - 20 * DAY, 5))])
    # Reviews and purchases in two currencies, some across midnight: 23:50 UTC is tomorrow
    # in Tokyo and Kolkata, today in New York.
    for i, user in enumerate(learners.values()):
        course = enrolled[user.pk][0]
        make_events(
            user,
            [
                ("review_posted", utc(today - (3 + i) * DAY, 23, 50), {"rating": 1 + i}),
                ("purchase", utc(today - 12 * DAY, 23, 50), {"amount": 19.99, "currency": "EUR"}),
                (
                    "purchase",
                    utc(today - (6 + i) * DAY, 10),
                    {"amount": 5 + i, "currency": "USD" if i % 2 else "EUR"},
                    {"course": None},
                ),
            ],
            course=course,
        )
    # Messages, each step later than the one before, some across midnight.
    template = default_template("gentle-reminder")
    for i, user in enumerate(learners.values()):
        sent = utc(today - (8 + i) * DAY, 22, 30)
        # Each step 20 hours after the one before; learner i got i + 1 of them.
        steps = {step: sent + k * 20 * HOUR for k, step in enumerate(STEPS)}
        Delivery.objects.create(
            user=user,
            template=template,
            channel="email",
            source=f"test:{i}",
            course=enrolled[user.pk][0] if i % 2 else None,
            status="converted",
            **{step: at for k, (step, at) in enumerate(steps.items()) if k <= i},
        )
    # A learner first active 10 days ago (a late event will move that back by 35 days).
    late_bloomer = UserFactory(timezone="Asia/Tokyo")
    EnrollmentFactory(user=late_bloomer, course=courses[1], enrolled_at=utc(today - 60 * DAY, 9))
    make_events(
        late_bloomer,
        [("login", utc(today - 10 * DAY, 12)), ("page_view", utc(today - 3 * DAY, 12))],
        course=courses[1],
    )
    enrolled[late_bloomer.pk] = [courses[1]]
    return History(courses, learners, today, late_bloomer, enrolled)


def _scopes(course_id: int | None, instructors: dict[int, int]) -> list:
    """None (the platform), the course id, ("instructor", id) of its instructor."""
    scopes: list = [None] if course_id is None else [None, course_id]
    if course_id in instructors:
        scopes.append(("instructor", instructors[course_id]))
    return scopes


def recount(start: datetime.date, end: datetime.date) -> dict[tuple, tuple[int, ...]]:
    """Every scope's figures for local days start..end, counted naively from the raw rows:
    scope None is the platform, a course id a course, ("instructor", id) an instructor's
    courses together (a learner active in two of them is one active learner)."""
    instructors = dict(
        Course.objects.filter(instructor__isnull=False).values_list("pk", "instructor_id")
    )
    active: dict[tuple, set[int]] = defaultdict(set)
    first: dict[tuple, datetime.date] = {}
    events: dict[tuple, int] = defaultdict(int)
    for user_id, tz, course_id, kind, at in Event.objects.values_list(
        "user_id", "user__timezone", "course_id", "type", "occurred_at"
    ):
        day = at.astimezone(ZoneInfo(tz)).date()
        scopes = _scopes(course_id, instructors)
        for scope in scopes:
            events[scope, day] += 1

            if kind not in NON_ACTIVITY:
                active[scope, day].add(user_id)
                first[scope, user_id] = min(first.get((scope, user_id), day), day)
    ratings: dict[tuple, list[float]] = defaultdict(list)
    for tz, course_id, at, properties in Event.objects.filter(type="review_posted").values_list(
        "user__timezone", "course_id", "occurred_at", "properties"
    ):
        for scope in _scopes(course_id, instructors):
            ratings[scope, at.astimezone(ZoneInfo(tz)).date()].append(properties["rating"])
    enrollments: dict[tuple, int] = defaultdict(int)
    completions: dict[tuple, int] = defaultdict(int)
    durations: dict[tuple, list[float]] = defaultdict(list)
    for tz, course_id, enrolled_at, completed_at in Enrollment.objects.values_list(
        "user__timezone", "course_id", "enrolled_at", "completed_at"
    ):
        for scope in _scopes(course_id, instructors):
            enrollments[scope, enrolled_at.astimezone(ZoneInfo(tz)).date()] += 1
            if completed_at is not None:
                completions[scope, completed_at.astimezone(ZoneInfo(tz)).date()] += 1
                durations[scope, completed_at.astimezone(ZoneInfo(tz)).date()].append(
                    (completed_at - enrolled_at) / DAY
                )
    starts: dict[tuple, int] = defaultdict(int)
    pairs = set(Enrollment.objects.values_list("user_id", "course_id"))
    for (scope, user_id), day in first.items():
        if scope is not None and (user_id, scope) in pairs:
            for counted in _scopes(scope, instructors):
                starts[counted, day] += 1
    messages: dict[tuple, int] = defaultdict(int)
    for delivery in Delivery.objects.select_related("user"):
        for step in STEPS:
            at = getattr(delivery, step)
            if at is not None:
                day = at.astimezone(ZoneInfo(delivery.user.timezone)).date()
                for scope in _scopes(delivery.course_id, instructors):
                    messages[scope, step, day] += 1
    scopes = (
        {None}
        | set(Course.objects.values_list("pk", flat=True))
        | {("instructor", i) for i in instructors.values()}
    )
    out = {}
    day = start
    while day <= end:
        for scope in scopes:
            week = set().union(*(active[scope, day - i * DAY] for i in range(7)))
            month = set().union(*(active[scope, day - i * DAY] for i in range(30)))
            new = sum(1 for (s, _), d in first.items() if s == scope and d == day)
            figures = (
                len(active[scope, day]),
                len(week),
                len(month),
                new,
                events[scope, day],
                enrollments[scope, day],
                completions[scope, day],
                starts[scope, day],
                float(sum(ratings[scope, day])),
                len(ratings[scope, day]),
                round(median(durations[scope, day]), 4) if durations[scope, day] else None,
                *(messages[scope, step, day] for step in STEPS),
            )
            if scope is None or any(f for f in figures if f is not None):
                out[day, scope] = figures
        day += DAY
    return out


def stored() -> dict[tuple, tuple[int, ...]]:
    """The stored aggregates as {(day, scope): figures}, scoped as `recount`'s."""
    return {
        (row.day, _scope(row)): tuple(getattr(row, name) for name in METRICS)
        for row in DailyAggregate.objects.all()
    }


def recount_revenue(start: datetime.date, end: datetime.date) -> dict[tuple, tuple]:
    """{(day, scope, currency): (amount, purchases)} recounted from the purchase events."""
    instructors = dict(
        Course.objects.filter(instructor__isnull=False).values_list("pk", "instructor_id")
    )
    out: dict[tuple, tuple] = {}
    for tz, course_id, at, properties in Event.objects.filter(type="purchase").values_list(
        "user__timezone", "course_id", "occurred_at", "properties"
    ):
        day = at.astimezone(ZoneInfo(tz)).date()
        if not start <= day <= end:
            continue
        for scope in _scopes(course_id, instructors):
            key = (day, scope, properties["currency"])
            amount, n = out.get(key, (Decimal(0), 0))
            out[key] = (amount + Decimal(str(properties["amount"])), n + 1)
    return out


def stored_revenue() -> dict[tuple, tuple]:
    return {
        (row.day, _scope(row), row.currency): (row.amount, row.transactions)
        for row in DailyRevenue.objects.all()
    }


def _scope(row: DailyAggregate | DailyRevenue) -> int | tuple | None:
    if row.instructor_id is not None:
        return ("instructor", row.instructor_id)
    return row.course_id
