from django.urls import path

from analytics.api.cohorts import CohortsView, LifecycleView
from analytics.api.engagement import EngagementView
from analytics.api.funnels import FunnelsView

urlpatterns = [
    path("analytics/engagement/", EngagementView.as_view(), name="analytics-engagement"),
    path("analytics/funnels/", FunnelsView.as_view(), name="analytics-funnels"),
    path("analytics/cohorts/", CohortsView.as_view(), name="analytics-cohorts"),
    path("analytics/lifecycle/", LifecycleView.as_view(), name="analytics-lifecycle"),
]
