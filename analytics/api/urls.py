from django.urls import path

from analytics.api.engagement import EngagementView
from analytics.api.funnels import FunnelsView
from analytics.api.health import HealthView

urlpatterns = [
    path("analytics/engagement/", EngagementView.as_view(), name="analytics-engagement"),
    path("analytics/funnels/", FunnelsView.as_view(), name="analytics-funnels"),
    path("analytics/health/", HealthView.as_view(), name="analytics-health"),
]
