"""Catalogue API: courses, lessons and enrollments, upserted by natural key."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import UpsertResultSerializer
from accounts.models import User
from config.api import UpsertViewSetMixin
from config.errors import DomainValidationError
from config.upsert import UpsertResult
from learning.api import serializers as s
from learning.models import Course, Enrollment, Lesson
from learning.selectors import course_list, enrollment_list, lesson_list
from learning.services import courses_upsert, enrollments_upsert, lessons_upsert


def _upsert_schema(name: str, item: type, bulk: type, output: type) -> dict[str, Any]:
    return {
        "update": extend_schema(
            request=item,
            responses={200: output, 201: output},
            summary=f"Create or update a {name} by external id",
        ),
        "bulk": extend_schema(
            request=bulk,
            responses={200: UpsertResultSerializer},
            summary=f"Create or update many {name}s at once (all or nothing)",
        ),
    }


class CourseFilter(filters.FilterSet):
    instructor = filters.CharFilter(field_name="instructor__external_id")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Course
        fields = ["provisional"]


@extend_schema_view(
    **_upsert_schema(
        "course", s.CourseInputSerializer, s.CourseBulkSerializer, s.CourseOutputSerializer
    )
)
class CourseViewSet(
    UpsertViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.CourseOutputSerializer
    input_serializer_class = s.CourseInputSerializer
    bulk_serializer_class = s.CourseBulkSerializer
    output_serializer_class = s.CourseOutputSerializer
    filterset_class = CourseFilter
    scope_read = "courses:read"
    scope_write = "courses:write"

    def get_queryset(self) -> QuerySet[Course]:
        return course_list().order_by("id")

    def upsert(self, items: list[dict[str, Any]]) -> UpsertResult:
        result = courses_upsert(items=items)
        return _reload(result, course_list(), "external_id", [i["external_id"] for i in items])


class LessonFilter(filters.FilterSet):
    course = filters.CharFilter(field_name="course__external_id")

    class Meta:
        model = Lesson
        fields = ["provisional"]


@extend_schema_view(
    **_upsert_schema(
        "lesson", s.LessonInputSerializer, s.LessonBulkSerializer, s.LessonOutputSerializer
    )
)
class LessonViewSet(
    UpsertViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.LessonOutputSerializer
    input_serializer_class = s.LessonInputSerializer
    bulk_serializer_class = s.LessonBulkSerializer
    output_serializer_class = s.LessonOutputSerializer
    filterset_class = LessonFilter
    scope_read = "courses:read"
    scope_write = "courses:write"

    def get_queryset(self) -> QuerySet[Lesson]:
        return lesson_list()

    def upsert(self, items: list[dict[str, Any]]) -> UpsertResult:
        result = lessons_upsert(items=items)
        return _reload(result, lesson_list(), "external_id", [i["external_id"] for i in items])


def _reload(result: UpsertResult, queryset: QuerySet, field: str, keys: list) -> UpsertResult:
    """Re-read upserted rows so that the answer shows related objects, not bare ids."""
    if len(keys) != 1:
        return result
    return UpsertResult(result.created, result.updated, [queryset.get(**{field: keys[0]})])


class EnrollmentFilter(filters.FilterSet):
    user = filters.CharFilter(field_name="user__external_id")
    course = filters.CharFilter(field_name="course__external_id")
    enrolled_since = filters.IsoDateTimeFilter(field_name="enrolled_at", lookup_expr="gte")

    class Meta:
        model = Enrollment
        fields = ["status", "provisional"]


class EnrollmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Enrollments by (user, course) external ids; a student sees only their own."""

    serializer_class = s.EnrollmentOutputSerializer
    filterset_class = EnrollmentFilter
    scope_read = "courses:read"
    scope_write = "courses:write"
    allow_self_service = True

    def get_queryset(self) -> QuerySet[Enrollment]:
        viewer = self.request.user if isinstance(self.request.user, User) else None
        return enrollment_list(viewer=viewer)

    def _get(self, user: str, course: str) -> Enrollment:
        return get_object_or_404(
            self.get_queryset(), user__external_id=user, course__external_id=course
        )

    def get_object(self) -> Enrollment:
        # Detail URLs name the enrollment by (user, course), not by pk; OPTIONS and the
        # browsable API look the object up through here.
        return self._get(self.kwargs["user"], self.kwargs["course"])

    @extend_schema(responses=s.EnrollmentOutputSerializer, summary="Read one enrollment")
    def retrieve(self, request: Request, user: str, course: str) -> Response:
        return Response(self.get_serializer(self._get(user, course)).data)

    @extend_schema(
        request=s.EnrollmentInputSerializer,
        responses={200: s.EnrollmentOutputSerializer, 201: s.EnrollmentOutputSerializer},
        summary="Create or update the enrollment of a user in a course",
    )
    def update(self, request: Request, user: str, course: str) -> Response:
        serializer = s.EnrollmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = enrollments_upsert(
                items=[{**serializer.validated_data, "user": user, "course": course}]
            )
        except DomainValidationError as exc:
            raise DomainValidationError(exc.fields["items"]["0"]) from exc
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.get_serializer(self._get(user, course)).data, status=code)

    @extend_schema(
        request=s.EnrollmentBulkSerializer,
        responses={200: UpsertResultSerializer},
        summary="Create or update many enrollments at once (all or nothing)",
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        serializer = s.EnrollmentBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = enrollments_upsert(items=serializer.validated_data["items"])
        return Response({"created": result.created, "updated": result.updated})
