"""The student's own pages, mounted at /me/."""

from django.urls import path  # noqa: F401

app_name = "gamification"

urlpatterns: list = []
