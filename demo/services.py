"""Demo data written through the same services the API uses, so it is valid by construction."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.services import users_upsert
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


@dataclass(frozen=True)
class DemoSummary:
    instructors: int
    courses: int
    lessons: int
    students: int
    enrollments: int


def demo_seed(
    *,
    students: int = 200,
    days: int = 60,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Create or refresh the demo catalogue and learners; running it twice changes nothing.

    Every row has a fixed external id derived from its number, and the random choices come
    from `seed`, so a second run upserts the same values.
    """
    rng = random.Random(seed)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    step = progress or (lambda n: None)

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

    enrollments = []
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
        for course_index in rng.sample(range(len(COURSES)), k=rng.choice((1, 1, 2, 2, 3))):
            enrolled = today - timedelta(days=rng.randint(0, days), hours=rng.randint(0, 23))
            enrollments.append(
                {
                    "user": student_id,
                    "course": courses[course_index]["external_id"],
                    "enrolled_at": enrolled,
                    "status": "active",
                }
            )
        if len(batch) == 500 or n == students - 1:
            users_upsert(items=batch)
            step(len(batch))
            batch = []
    enrollments_upsert(items=enrollments)
    return DemoSummary(
        instructors=len(instructors),
        courses=len(courses),
        lessons=len(lessons),
        students=students,
        enrollments=len(enrollments),
    )
