"""Analytics pages under /dashboard/analytics/."""

from django.urls import path

from analytics.views import funnels, overview

app_name = "analytics"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("funnels/", funnels.funnels, name="funnels"),
]
