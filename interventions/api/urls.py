"""Interventions' API routes, mounted under /api/v1/ in config/urls.py."""

from django.urls import path

from interventions.api.views import InterventionView

urlpatterns: list = [
    path("interventions/", InterventionView.as_view(), name="interventions"),
]
