"""Factories for the catalogue: courses, lessons, enrollments and lesson progress.

Each is written through the `learning` service an integrator's sync or a learner's activity
goes through (`courses_upsert`, `lessons_upsert`, `enrollments_upsert`,
`lesson_progress_record`), so tests start from state the app itself could have written.
`build()` gives unsaved instances.
"""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.utils import timezone

from learning.models import Course, Enrollment, Lesson, LessonProgress
from learning.services import (
    courses_upsert,
    enrollments_upsert,
    lesson_progress_record,
    lessons_upsert,
)
from tests.accounts.factories import UserFactory


class CourseFactory(factory.Factory):
    """A self-paced course (no dates) unless `starts_on` / `ends_on` are given."""

    class Meta:
        model = Course

    external_id = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    description = ""
    instructor = None
    starts_on = None
    ends_on = None

    @classmethod
    def _create(cls, model_class: type[Course], **kwargs: Any) -> Course:
        instructor = kwargs.pop("instructor")
        # The sync names the instructor by external id, as integrators do.
        item = {**kwargs, "instructor": instructor.external_id if instructor else None}
        courses_upsert(items=[item])
        return Course.objects.get(external_id=kwargs["external_id"])


class LessonFactory(factory.Factory):
    class Meta:
        model = Lesson

    course = factory.SubFactory(CourseFactory)
    external_id = factory.Sequence(lambda n: f"lesson-{n}")
    title = factory.Sequence(lambda n: f"Lesson {n}")
    position = 0
    duration_seconds = None

    @classmethod
    def _create(cls, model_class: type[Lesson], **kwargs: Any) -> Lesson:
        course = kwargs.pop("course")
        lessons_upsert(items=[{**kwargs, "course": course.external_id}])
        return Lesson.objects.get(external_id=kwargs["external_id"])


class EnrollmentFactory(factory.Factory):
    """An active enrollment from now; `status` "completed" / "withdrawn" dates itself now."""

    class Meta:
        model = Enrollment

    user = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    enrolled_at = factory.LazyFunction(timezone.now)
    status = Enrollment.Status.ACTIVE

    @classmethod
    def _create(cls, model_class: type[Enrollment], **kwargs: Any) -> Enrollment:
        user, course = kwargs.pop("user"), kwargs.pop("course")
        item = {**kwargs, "user": user.external_id, "course": course.external_id}
        enrollments_upsert(items=[item])
        return Enrollment.objects.get(user=user, course=course)


class LessonProgressFactory(factory.Factory):
    """A learner's activity in a lesson at `at`, folded in as ingestion folds it.

    `completed` makes it a completion at `at` (100 %); otherwise it is started at `at` with
    `percent` watched.
    """

    class Meta:
        model = LessonProgress

    user = factory.SubFactory(UserFactory)
    lesson = factory.SubFactory(LessonFactory)
    at = factory.LazyFunction(timezone.now)
    percent = None
    completed = False

    @classmethod
    def _create(cls, model_class: type[LessonProgress], **kwargs: Any) -> LessonProgress:
        user, lesson = kwargs["user"], kwargs["lesson"]
        at: datetime.datetime = kwargs["at"]
        lesson_progress_record(
            observations=[(user.pk, lesson.pk, at, kwargs["percent"], kwargs["completed"])]
        )
        return LessonProgress.objects.get(user=user, lesson=lesson)

    @classmethod
    def _build(cls, model_class: type[LessonProgress], **kwargs: Any) -> LessonProgress:
        at, percent, completed = kwargs.pop("at"), kwargs.pop("percent"), kwargs.pop("completed")
        return model_class(
            **kwargs,
            started_at=at,
            completed_at=at if completed else None,
            percent=100 if completed else round(percent or 0),
        )
