"""Who may read the analytics API: a key with the `analytics:read` scope reads everything;
a signed-in session reads what the pages would show it (staff everything, an instructor
their own courses, nobody else anything)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import ApiKey
from analytics.access import can_see_analytics, can_see_platform, visible_courses
from engagement.selectors.dashboard import course_by_external_id
from learning.models import Course


class AnalyticsReadView(APIView):
    """A read-only analytics endpoint. HasScope checks the key's scope; sessions get through
    it (`allow_self_service`) and are narrowed here, as on the pages."""

    scope_read = "analytics:read"
    allow_self_service = True

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        if not isinstance(request.auth, ApiKey) and not can_see_analytics(request.user):
            raise PermissionDenied("Analytics are for staff and instructors.")

    def check_course(self, request: Request, course: Course | None) -> None:
        """403 unless the caller may see `course` (None: the platform, staff and keys only)."""
        if isinstance(request.auth, ApiKey) or can_see_platform(request.user):
            return
        if course is None:
            raise PermissionDenied("Platform figures are for staff; name one of your courses.")
        if not visible_courses(request.user).filter(pk=course.pk).exists():
            raise PermissionDenied("You may read the analytics of your own courses only.")


class CourseQuerySerializer(serializers.Serializer):
    """?course=<external id> of the analytics endpoints, validated to the Course (a 400
    naming `course` for one Stride does not have). Subclasses may redeclare the field to
    say what its absence means."""

    course = serializers.CharField(
        required=False, max_length=128, help_text="Course external id; default: the platform."
    )

    def validate_course(self, value: str) -> Course:
        course = course_by_external_id(external_id=value)
        if course is None:
            raise serializers.ValidationError(f"No course has the external id {value!r}.")
        return course
