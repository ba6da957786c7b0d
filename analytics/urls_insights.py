"""The weekly insights page, mounted at /dashboard/insights/."""

from django.urls import path

from analytics.views import insights

app_name = "insights"

urlpatterns = [
    path("", insights.insights, name="insights"),
    path("<int:insight_id>/status/", insights.insight_status, name="status"),
]
