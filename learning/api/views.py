"""Catalogue API: courses, lessons and enrollments, upserted by natural key."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.api import (
    DateTimeFilter,
    StrideFilterSet,
    UpsertResultSerializer,
    UpsertViewSetMixin,
    validate_url_ids,
)
from core.bulk import UpsertResult
from core.errors import DomainValidationError
from learning.api import serializers as s
from learning.models import Course, Enrollment, Lesson, LiveSession, LiveSessionRegistration
from learning.selectors import (
    course_list,
    enrollment_list,
    lesson_list,
    live_registration_list,
    live_session_list,
)
from learning.services import (
    courses_upsert,
    enrollments_upsert,
    lessons_upsert,
    live_registrations_upsert,
    live_sessions_upsert,
)


def _upsert_schema(
    name: str, item: type, bulk: type, output: type, *, listing: str, rules: str
) -> dict[str, Any]:
    """Documentation of a catalogue viewset: list, read, PUT and bulk upsert of `name`s.

    `listing` says what the list holds and how to filter it; `rules` what creating or
    updating one needs beyond the request's shape.
    """
    return {
        "list": extend_schema(
            summary=f"List {name}s",
            description=f"{listing} Needs the `courses:read` scope.",
        ),
        "retrieve": extend_schema(
            summary=f"Read a {name}",
            description=f"One {name} by your external id. Needs the `courses:read` scope.",
        ),
        "update": extend_schema(
            request=item,
            responses={200: output, 201: output},
            summary=f"Create or update a {name} by external id",
            description=(
                f"Creates the {name} with this external id (201) or updates it (200). Fields "
                f"left out keep their stored values. {rules} A provisional {name} becomes a "
                "synced one. Needs the `courses:write` scope."
            ),
        ),
        "bulk": extend_schema(
            operation_id=f"{name.replace(' ', '_')}s_bulk_upsert",
            request=bulk,
            responses={200: UpsertResultSerializer},
            summary=f"Create or update many {name}s at once (all or nothing)",
            description=(
                "Upserts each item of `items` by its `external_id`, as the single PUT does, in "
                "one transaction: if any item is invalid nothing is stored, and the 400 lists "
                "each invalid item's fields under `items` by index. At most "
                f"{settings.STRIDE_BULK_MAX_ITEMS:,} items. Needs the `courses:write` scope."
            ),
        ),
    }


class CourseFilter(StrideFilterSet):
    instructor = filters.CharFilter(field_name="instructor__external_id")
    updated_since = DateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Course
        fields = ["provisional"]


@extend_schema_view(
    **_upsert_schema(
        "course",
        s.CourseInputSerializer,
        s.CourseBulkSerializer,
        s.CourseOutputSerializer,
        listing=(
            "Courses by your external id, oldest first, including those created provisionally "
            "(`provisional: true`) when an event named an unknown course. Filter by "
            "`instructor` (a user's external id), `provisional` and `updated_since`."
        ),
        rules=(
            "Creating a course needs `title`; `instructor` must be the external id of a user "
            "Stride knows, and `ends_on` may not be before `starts_on`."
        ),
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


class LessonFilter(StrideFilterSet):
    course = filters.CharFilter(field_name="course__external_id")

    class Meta:
        model = Lesson
        fields = ["provisional"]


@extend_schema_view(
    **_upsert_schema(
        "lesson",
        s.LessonInputSerializer,
        s.LessonBulkSerializer,
        s.LessonOutputSerializer,
        listing=(
            "Lessons by your external id, by course and then position, including those "
            "created provisionally by events. Filter by `course` (its external id) and "
            "`provisional`."
        ),
        rules=(
            "Creating a lesson needs `course` and `title`; `course` must be the external id "
            "of a course Stride knows."
        ),
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


class EnrollmentFilter(StrideFilterSet):
    user = filters.CharFilter(field_name="user__external_id")
    course = filters.CharFilter(field_name="course__external_id")
    enrolled_since = DateTimeFilter(field_name="enrolled_at", lookup_expr="gte")

    class Meta:
        model = Enrollment
        fields = ["status", "provisional"]


@extend_schema_view(
    list=extend_schema(
        summary="List enrollments",
        description=(
            "Enrollments of learners in courses, oldest first, including those created "
            "provisionally by events. Filter by `user` and `course` (external ids), `status`, "
            "`provisional` and `enrolled_since`. Needs the `courses:read` scope; a signed-in "
            "student sees only their own."
        ),
    )
)
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

    @extend_schema(
        responses=s.EnrollmentOutputSerializer,
        summary="Read one enrollment",
        description=(
            "The enrollment of a user in a course, both by your external ids. Needs the "
            "`courses:read` scope; a signed-in student may read only their own."
        ),
    )
    def retrieve(self, request: Request, user: str, course: str) -> Response:
        return Response(self.get_serializer(self._get(user, course)).data)

    @extend_schema(
        request=s.EnrollmentInputSerializer,
        responses={200: s.EnrollmentOutputSerializer, 201: s.EnrollmentOutputSerializer},
        summary="Create or update the enrollment of a user in a course",
        description=(
            "Enrolls the user in the course (201) or updates the enrollment (200); both must "
            "be external ids of a user and a course Stride knows. Fields left out keep their "
            "stored values (a new enrollment is `active` from now). Changing `status` dates "
            "the change unless you send `completed_at` or `withdrawn_at`, which may not be "
            "before `enrolled_at`. Needs the `courses:write` scope."
        ),
    )
    def update(self, request: Request, user: str, course: str) -> Response:
        ids = validate_url_ids(s.EnrollmentBulkItemSerializer, user=user, course=course)
        serializer = s.EnrollmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = enrollments_upsert(items=[{**serializer.validated_data, **ids}])
        except DomainValidationError as exc:
            raise DomainValidationError(exc.fields["items"]["0"]) from exc
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.get_serializer(self._get(user, course)).data, status=code)

    @extend_schema(
        operation_id="enrollments_bulk_upsert",
        request=s.EnrollmentBulkSerializer,
        responses={200: UpsertResultSerializer},
        summary="Create or update many enrollments at once (all or nothing)",
        description=(
            "Upserts each item of `items` by its (`user`, `course`), as the single PUT does, in "
            "one transaction: if any item is invalid nothing is stored, and the 400 lists each "
            "invalid item's fields under `items` by index. At most "
            f"{settings.STRIDE_BULK_MAX_ITEMS:,} items. Needs the `courses:write` scope."
        ),
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        serializer = s.EnrollmentBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = enrollments_upsert(items=serializer.validated_data["items"])
        return Response({"created": result.created, "updated": result.updated})


class LiveSessionFilter(StrideFilterSet):
    course = filters.CharFilter(field_name="course__external_id")
    starts_after = DateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = DateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = LiveSession
        fields = ["status"]


@extend_schema_view(
    **_upsert_schema(
        "live session",
        s.LiveSessionInputSerializer,
        s.LiveSessionBulkSerializer,
        s.LiveSessionOutputSerializer,
        listing=(
            "Scheduled live sessions by your external id, soonest first. Filter by `course` "
            "(its external id), `status`, `starts_after` and `starts_before`."
        ),
        rules=(
            "Creating a live session needs `course`, `title` and `starts_at`; `course` must "
            "be the external id of a course Stride knows. Cancel one with `status: cancelled`."
        ),
    )
)
class LiveSessionViewSet(
    UpsertViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.LiveSessionOutputSerializer
    input_serializer_class = s.LiveSessionInputSerializer
    bulk_serializer_class = s.LiveSessionBulkSerializer
    output_serializer_class = s.LiveSessionOutputSerializer
    filterset_class = LiveSessionFilter
    scope_read = "courses:read"
    scope_write = "courses:write"

    def get_queryset(self) -> QuerySet[LiveSession]:
        return live_session_list()

    def upsert(self, items: list[dict[str, Any]]) -> UpsertResult:
        result = live_sessions_upsert(items=items)
        return _reload(
            result, live_session_list(), "external_id", [i["external_id"] for i in items]
        )


class LiveRegistrationFilter(StrideFilterSet):
    session = filters.CharFilter(field_name="session__external_id")
    user = filters.CharFilter(field_name="user__external_id")
    course = filters.CharFilter(field_name="session__course__external_id")

    class Meta:
        model = LiveSessionRegistration
        fields = ["status", "attended"]


@extend_schema_view(
    list=extend_schema(
        summary="List live-session registrations",
        description=(
            "Learners registered for live sessions, with their attendance (`attended`: null "
            "until a `live_session_attended` or `live_session_missed` event arrives). Filter "
            "by `session`, `user`, `course` (external ids), `status` and `attended`. Needs "
            "the `courses:read` scope; a signed-in student sees only their own."
        ),
    )
)
class LiveRegistrationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Registrations by (session, user) external ids; a student sees only their own."""

    serializer_class = s.LiveRegistrationOutputSerializer
    filterset_class = LiveRegistrationFilter
    scope_read = "courses:read"
    scope_write = "courses:write"
    allow_self_service = True

    def get_queryset(self) -> QuerySet[LiveSessionRegistration]:
        viewer = self.request.user if isinstance(self.request.user, User) else None
        return live_registration_list(viewer=viewer)

    def _get(self, session: str, user: str) -> LiveSessionRegistration:
        return get_object_or_404(
            self.get_queryset(), session__external_id=session, user__external_id=user
        )

    def get_object(self) -> LiveSessionRegistration:
        return self._get(self.kwargs["session"], self.kwargs["user"])

    @extend_schema(
        responses=s.LiveRegistrationOutputSerializer,
        summary="Read one live-session registration",
        description=(
            "The registration of a user for a live session, both by your external ids. Needs "
            "the `courses:read` scope; a signed-in student may read only their own."
        ),
    )
    def retrieve(self, request: Request, session: str, user: str) -> Response:
        return Response(self.get_serializer(self._get(session, user)).data)

    @extend_schema(
        request=s.LiveRegistrationInputSerializer,
        responses={
            200: s.LiveRegistrationOutputSerializer,
            201: s.LiveRegistrationOutputSerializer,
        },
        summary="Register a user for a live session, or update the registration",
        description=(
            "Registers the user for the session (201) or updates the registration (200); both "
            "must be external ids Stride knows. Fields left out keep their stored values (a "
            "new registration is `registered` from now). A learner who moves to another "
            "session: mark the old registration `rescheduled` and register them for the new "
            "one with `rescheduled_from`. Needs the `courses:write` scope."
        ),
    )
    def update(self, request: Request, session: str, user: str) -> Response:
        ids = validate_url_ids(s.LiveRegistrationBulkItemSerializer, session=session, user=user)
        serializer = s.LiveRegistrationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = live_registrations_upsert(items=[{**serializer.validated_data, **ids}])
        except DomainValidationError as exc:
            raise DomainValidationError(exc.fields["items"]["0"]) from exc
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.get_serializer(self._get(session, user)).data, status=code)

    @extend_schema(
        operation_id="live_session_registrations_bulk_upsert",
        request=s.LiveRegistrationBulkSerializer,
        responses={200: UpsertResultSerializer},
        summary="Create or update many live-session registrations at once (all or nothing)",
        description=(
            "Upserts each item of `items` by its (`session`, `user`), as the single PUT does, "
            "in one transaction: if any item is invalid nothing is stored, and the 400 lists "
            "each invalid item's fields under `items` by index. At most "
            f"{settings.STRIDE_BULK_MAX_ITEMS:,} items. Needs the `courses:write` scope."
        ),
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        serializer = s.LiveRegistrationBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = live_registrations_upsert(items=serializer.validated_data["items"])
        return Response({"created": result.created, "updated": result.updated})
