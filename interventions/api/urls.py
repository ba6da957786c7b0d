"""Interventions' API routes, mounted under /api/v1/ in config/urls.py."""

from django.urls import path

from interventions.api.conversions import ConversionView
from interventions.api.notifications import MyNotificationsReadView, MyNotificationsView
from interventions.api.push import MyPushSubscriptionRemoveView, MyPushSubscriptionsView
from interventions.api.stats import InterventionStatsView
from interventions.api.views import InterventionView

urlpatterns: list = [
    path("interventions/", InterventionView.as_view(), name="interventions"),
    path("interventions/conversions/", ConversionView.as_view(), name="intervention-conversions"),
    path("interventions/stats/", InterventionStatsView.as_view(), name="intervention-stats"),
    path("me/notifications/", MyNotificationsView.as_view(), name="me-notifications"),
    path("me/notifications/read/", MyNotificationsReadView.as_view(), name="me-notifications-read"),
    path("me/push-subscriptions/", MyPushSubscriptionsView.as_view(), name="me-push-subscriptions"),
    path(
        "me/push-subscriptions/remove/",
        MyPushSubscriptionRemoveView.as_view(),
        name="me-push-subscriptions-remove",
    ),
]
