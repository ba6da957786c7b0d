from django.urls import path
from rest_framework.routers import SimpleRouter

from learning.api.views import CourseViewSet, EnrollmentViewSet, LessonViewSet

router = SimpleRouter()
router.register("courses", CourseViewSet, basename="course")
router.register("lessons", LessonViewSet, basename="lesson")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")

enrollment_detail = EnrollmentViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    path(
        "enrollments/<str:user>/<str:course>/",
        enrollment_detail,
        name="enrollment-detail",
    ),
    *router.urls,
]
