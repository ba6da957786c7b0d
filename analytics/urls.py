"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import overview, trends

app_name = "analytics"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("trends/", trends.trends, name="trends"),
]
