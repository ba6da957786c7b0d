"""Who sees which analytics: staff see everything, instructors their own courses, nobody else.

Every analytics page and endpoint asks these functions rather than testing roles itself, so
the rule lives in one place: platform-wide figures (the overview, instructors, system health)
are staff-only; course figures are for staff and for the course's instructor.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.models import User
from learning.models import Course

View = Callable[..., HttpResponse]


def can_see_analytics(user: Any) -> bool:
    """Staff and instructors have analytics pages; students and anonymous visitors do not."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff or user.role == User.Role.INSTRUCTOR)


def can_see_platform(user: Any) -> bool:
    """Platform-wide figures (every learner, every course) are for staff only."""
    return bool(getattr(user, "is_authenticated", False) and user.is_staff)


def visible_courses(user: Any) -> QuerySet[Course]:
    """The courses whose analytics `user` may see: every course for staff, an instructor's
    own courses, none for anyone else."""
    courses = Course.objects.order_by("title", "id")
    if can_see_platform(user):
        return courses
    if can_see_analytics(user):
        return courses.filter(instructor=user)
    return courses.none()


def analytics_required(*, platform: bool = False) -> Callable[[View], View]:
    """Guard a page: anonymous visitors go to the login page; a signed-in user who may not
    see it (a student; an instructor on a platform-wide page) gets a 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            allowed = can_see_platform(user) if platform else can_see_analytics(user)
            if not allowed:
                raise PermissionDenied(
                    "This page is for staff."
                    if platform
                    else "Analytics are for staff and instructors."
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
