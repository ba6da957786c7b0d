"""Demo data written through the same services the API uses, so it is valid by construction."""

import contextlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from accounts.services import users_upsert
from core.errors import DomainValidationError
from demo.behaviour import DemoLearner, archetype_pick, learner_events
from engagement.selectors.dashboard import scoring_run_current
from engagement.services.alerts import alerts_evaluate
from engagement.services.ingestion import events_ingest
from engagement.services.profiles import profiles_refresh
from engagement.services.scoring import active_risk_model, scoring_run_start
from engagement.services.training import risk_model_train
from learning.services import courses_upsert, enrollments_upsert, lessons_upsert

TIMEZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Africa/Lagos",
    "UTC",
)
FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Adeyemi",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Müller",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
)
COURSES = (
    ("Python for Data Analysis", 12),
    ("Machine Learning Foundations", 14),
    ("Web Development with Django", 10),
    ("Statistics Without Tears", 8),
    ("UX Design Essentials", 9),
    ("Cloud Computing 101", 11),
)
INSTRUCTORS = (("Marta", "Lindqvist"), ("Samuel", "Owusu"), ("Keiko", "Arai"))


DEMO_EVENT_SOURCE = "demo"
EVENT_BATCH = 5000


@dataclass(frozen=True)
class DemoSummary:
    instructors: int
    courses: int
    lessons: int
    students: int
    enrollments: int
    events: int
    new_events: int
    scored: int
    alerts: int
    model_version: int | None


Progress = Callable[[str, int, int], None]


def demo_seed(
    *,
    students: int = 200,
    days: int = 60,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create or refresh demo catalogue, learners and their behaviour; twice changes nothing.

    Every row and event has a fixed id derived from its number, and the random choices come
    from `seed`, so a second run upserts the same rows and ingestion drops the replayed events
    as duplicates. Behaviour then flows on as in production: a model is trained on the demo's
    own history, every learner is scored, alerts are raised and profiles refreshed.
    `progress(stage, done, total)` reports each stage.
    """
    rng = random.Random(seed)
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def step(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    instructors = [
        {
            "external_id": f"demo-instructor-{i + 1:02d}",
            "email": f"{first.lower()}.{last.lower()}@instructors.stride.local",
            "first_name": first,
            "last_name": last,
            "role": "instructor",
            "timezone": TIMEZONES[i],
        }
        for i, (first, last) in enumerate(INSTRUCTORS)
    ]
    users_upsert(items=instructors)

    courses, lessons = [], []
    for i, (title, lesson_count) in enumerate(COURSES):
        course_id = f"demo-course-{i + 1:02d}"
        self_paced = i % 3 == 2
        starts = (today - timedelta(days=days)).date()
        courses.append(
            {
                "external_id": course_id,
                "title": title,
                "description": f"A {lesson_count}-lesson course on {title.lower()}.",
                "instructor": instructors[i % len(instructors)]["external_id"],
                "starts_on": None if self_paced else starts,
                "ends_on": None if self_paced else starts + timedelta(days=days + 60),
            }
        )
        lessons += [
            {
                "external_id": f"{course_id}-lesson-{n + 1:02d}",
                "course": course_id,
                "position": n + 1,
                "title": f"{title}: part {n + 1}",
                "duration_seconds": rng.randint(6, 25) * 60,
            }
            for n in range(lesson_count)
        ]
    courses_upsert(items=courses)
    lessons_upsert(items=lessons)

    enrollments: list[dict[str, Any]] = []
    learners: list[DemoLearner] = []
    lessons_of = {
        course["external_id"]: tuple(
            lesson["external_id"] for lesson in lessons if lesson["course"] == course["external_id"]
        )
        for course in courses
    }
    batch: list[dict] = []
    for n in range(students):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        student_id = f"demo-student-{n + 1:05d}"
        batch.append(
            {
                "external_id": student_id,
                "email": f"{first.lower()}.{last.lower()}.{n + 1}@students.stride.local",
                "first_name": first,
                "last_name": last,
                "role": "student",
                "timezone": rng.choice(TIMEZONES),
            }
        )
        timezone_name = batch[-1]["timezone"]
        for course_index in rng.sample(range(len(COURSES)), k=rng.choice((1, 1, 2, 2, 3))):
            days_ago = rng.randint(0, days)
            course_id = courses[course_index]["external_id"]
            enrollments.append(
                {
                    "user": student_id,
                    "course": course_id,
                    "enrolled_at": today - timedelta(days=days_ago),
                }
            )
            learners.append(
                DemoLearner(
                    external_id=student_id,
                    timezone=timezone_name,
                    course=course_id,
                    lessons=lessons_of[course_id],
                    enrolled_on_day=days_ago,
                    archetype=archetype_pick(rng),
                )
            )
        if len(batch) == 500 or n == students - 1:
            users_upsert(items=batch)
            step("students", n + 1, students)
            batch = []
    enrollments_upsert(items=enrollments)

    events, new_events = _ingest_behaviour(learners, now=now, seed=seed, step=step)

    # Then as in production: train on the demo's own history (as a customer would after a
    # few weeks), score everyone, raise alerts. A rerun the same day reuses what it made.
    train_as_of = (now - timedelta(days=1)).date()
    _, version, _ = active_risk_model()
    if days >= 28 and (version is None or version.as_of != train_as_of):
        step("training", 0, 1)
        # With too little history yet, the transparent baseline scores.
        with contextlib.suppress(DomainValidationError):
            version = risk_model_train(as_of=train_as_of)
        step("training", 1, 1)
    model_version = version.version if version is not None else None
    run = scoring_run_current(as_of=now.date()) or scoring_run_start(execute_now=True)
    step("scoring", run.processed, run.total)
    alerts = alerts_evaluate()
    profiles_refresh()
    return DemoSummary(
        instructors=len(instructors),
        courses=len(courses),
        lessons=len(lessons),
        students=students,
        enrollments=len(enrollments),
        events=events,
        new_events=new_events,
        scored=run.processed,
        alerts=alerts,
        model_version=model_version,
    )


def _ingest_behaviour(
    learners: Iterable[DemoLearner],
    *,
    now: Any,
    seed: int,
    step: Callable[[str, int, int], None],
) -> tuple[int, int]:
    """Generate each learner's events and ingest them in batches; return (seen, stored)."""
    learners = list(learners)
    batch: list[dict[str, Any]] = []
    seen = stored = 0
    for index, learner in enumerate(learners):
        # One generator per learner, seeded by its position, so reruns replay the same events.
        rng = random.Random(f"{seed}-{learner.external_id}-{learner.course}")
        batch.extend(learner_events(learner, today=now, rng=rng))
        if len(batch) >= EVENT_BATCH or index == len(learners) - 1:
            result = events_ingest(source=DEMO_EVENT_SOURCE, items=batch)
            seen += len(batch)
            stored += result.accepted
            batch = []
            step("behaviour", index + 1, len(learners))
    return seen, stored
