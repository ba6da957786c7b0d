"""Who may read the analytics API: a key with the `analytics:read` scope reads everything;
a signed-in session reads what the pages would show it (staff everything, an instructor
their own courses, nobody else anything)."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import ApiKey
from analytics.access import can_see_analytics, can_see_platform, visible_courses
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
