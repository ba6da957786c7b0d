"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import (
    cohorts,
    courses,
    funnels,
    health,
    instructors,
    live_sessions,
    overview,
    trends,
)

app_name = "analytics"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("courses/", courses.courses, name="courses"),
    path("courses/<str:external_id>/", courses.course, name="course"),
    path("instructors/", instructors.instructors, name="instructors"),
    path("funnels/", funnels.funnels, name="funnels"),
    path("cohorts/", cohorts.cohorts, name="cohorts"),
    path("cohorts/segment/", cohorts.cohort_segment, name="cohort_segment"),
    path("trends/", trends.trends, name="trends"),
    path("health/", health.health, name="health"),
    path("live-sessions/", live_sessions.live_sessions, name="live_sessions"),
]
