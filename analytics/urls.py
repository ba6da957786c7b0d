"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import funnels, health, overview, trends

app_name = "analytics"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("funnels/", funnels.funnels, name="funnels"),
    path("trends/", trends.trends, name="trends"),
    path("health/", health.health, name="health"),
]
