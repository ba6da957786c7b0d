from django.urls import path
from rest_framework.routers import SimpleRouter

from learning.api.views import CourseViewSet, EnrollmentViewSet, LessonViewSet

router = SimpleRouter()
router.register("courses", CourseViewSet, basename="course")
router.register("lessons", LessonViewSet, basename="lesson")

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
    *router.urls,
]
