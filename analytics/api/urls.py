from django.urls import path

from analytics.api.engagement import EngagementView

urlpatterns = [
    path("analytics/engagement/", EngagementView.as_view(), name="analytics-engagement"),
]
