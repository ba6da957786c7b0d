"""Gamification's API routes, mounted under /api/v1/ in config/urls.py."""

from django.urls import path  # noqa: F401  (routes are added below as the API grows)

urlpatterns: list = []
