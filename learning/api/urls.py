from django.urls import path
from rest_framework.routers import SimpleRouter

from learning.api.views import (
    CourseViewSet,
    EnrollmentViewSet,
    LessonViewSet,
    LiveRegistrationViewSet,
    LiveSessionViewSet,
)

router = SimpleRouter()
router.register("courses", CourseViewSet, basename="course")
router.register("lessons", LessonViewSet, basename="lesson")
router.register("live-sessions", LiveSessionViewSet, basename="live-session")

urlpatterns = [
    path("enrollments/", EnrollmentViewSet.as_view({"get": "list"}), name="enrollment-list"),
    path(
        "enrollments/bulk/",
        EnrollmentViewSet.as_view({"post": "bulk"}),
        name="enrollment-bulk",
    ),
    path(
        "enrollments/<str:user>/<str:course>/",
        EnrollmentViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="enrollment-detail",
    ),
    path(
        "live-session-registrations/",
        LiveRegistrationViewSet.as_view({"get": "list"}),
        name="live-registration-list",
    ),
    path(
        "live-session-registrations/bulk/",
        LiveRegistrationViewSet.as_view({"post": "bulk"}),
        name="live-registration-bulk",
    ),
    path(
        "live-session-registrations/<str:session>/<str:user>/",
        LiveRegistrationViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="live-registration-detail",
    ),
    *router.urls,
]
