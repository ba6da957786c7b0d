"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import cohorts, funnels, health, overview, trends

app_name = "analytics"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("funnels/", funnels.funnels, name="funnels"),
    path("cohorts/", cohorts.cohorts, name="cohorts"),
    path("cohorts/segment/", cohorts.cohort_segment, name="cohort_segment"),
    path("trends/", trends.trends, name="trends"),
    path("health/", health.health, name="health"),
]
