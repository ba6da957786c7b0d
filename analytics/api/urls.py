from django.urls import path

from analytics.api.cohorts import CohortsView, LifecycleView
from analytics.api.courses import CourseSeriesView, CoursesView, InstructorsView, RevenueView
from analytics.api.engagement import EngagementView
from analytics.api.first_week import FirstWeekView
from analytics.api.forecasts import ForecastsView
from analytics.api.funnels import FunnelsView
from analytics.api.health import HealthView
from analytics.api.insights import InsightsView
from analytics.api.no_shows import NoShowsView
from analytics.api.performers import PerformersView
from analytics.api.trends import TrendsView

urlpatterns = [
    path("analytics/engagement/", EngagementView.as_view(), name="analytics-engagement"),
    path("analytics/funnels/", FunnelsView.as_view(), name="analytics-funnels"),
    path("analytics/courses/", CoursesView.as_view(), name="analytics-courses"),
    path(
        "analytics/courses/<str:external_id>/",
        CourseSeriesView.as_view(),
        name="analytics-course",
    ),
    path("analytics/instructors/", InstructorsView.as_view(), name="analytics-instructors"),
    path("analytics/revenue/", RevenueView.as_view(), name="analytics-revenue"),
    path("analytics/forecasts/", ForecastsView.as_view(), name="analytics-forecasts"),
    path("analytics/trends/", TrendsView.as_view(), name="analytics-trends"),
    path("analytics/health/", HealthView.as_view(), name="analytics-health"),
    path("analytics/no-shows/", NoShowsView.as_view(), name="analytics-no-shows"),
    path("analytics/cohorts/", CohortsView.as_view(), name="analytics-cohorts"),
    path("analytics/lifecycle/", LifecycleView.as_view(), name="analytics-lifecycle"),
    path("analytics/performers/", PerformersView.as_view(), name="analytics-performers"),
    path("analytics/first-week/", FirstWeekView.as_view(), name="analytics-first-week"),
    path("analytics/insights/", InsightsView.as_view(), name="analytics-insights"),
]
