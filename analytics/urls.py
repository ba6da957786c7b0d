"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import (
    cohorts,
    courses,
    first_week,
    funnels,
    health,
    instructors,
    live_sessions,
    overview,
    performers,
    reports,
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
    path("first-week/", first_week.first_week, name="first_week"),
    path("first-week/segment/", first_week.first_week_segment, name="first_week_segment"),
    path("trends/", trends.trends, name="trends"),
    path("health/", health.health, name="health"),
    path("reports/", reports.reports, name="reports"),
    path("reports/subscription/", reports.report_subscription, name="report_subscription"),
    path("performers/", performers.performers, name="performers"),
    path("live-sessions/", live_sessions.live_sessions, name="live_sessions"),
]
