from django.urls import path

from engagement.api.alerts import AlertViewSet
from engagement.api.at_risk import AtRiskView
from engagement.api.events import EventIngestView, EventTypeListView
from engagement.api.scores import ScoreListView

urlpatterns = [
    path("events/", EventIngestView.as_view(), name="event-ingest"),
    path("events/types/", EventTypeListView.as_view(), name="event-type-list"),
    path("engagement/scores/", ScoreListView.as_view(), name="score-list"),
    path("engagement/at-risk/", AtRiskView.as_view(), name="at-risk"),
    path("engagement/alerts/", AlertViewSet.as_view({"get": "list"}), name="alert-list"),
    path(
        "engagement/alerts/<int:pk>/acknowledge/",
        AlertViewSet.as_view({"post": "acknowledge"}),
        name="alert-acknowledge",
    ),
    path(
        "engagement/alerts/<int:pk>/resolve/",
        AlertViewSet.as_view({"post": "resolve"}),
        name="alert-resolve",
    ),
]
