"""Gamification's API routes, mounted under /api/v1/ in config/urls.py."""

from django.urls import path, re_path

from gamification.api.leaderboards import PERIOD_PATTERN, LeaderboardView
from gamification.api.profile import MyGamificationView, UserGamificationView
from gamification.api.xp import XpAwardView

urlpatterns: list = [
    # Read APIs (9e): a learner's whole state, for integrators and for the learner.
    path(
        "users/<str:external_id>/gamification/",
        UserGamificationView.as_view(),
        name="user-gamification",
    ),
    path("me/gamification/", MyGamificationView.as_view(), name="me-gamification"),
    # XP awards (9b): the learning platform awards XP for something it saw.
    path("xp/awards/", XpAwardView.as_view(), name="xp-award"),
    # Leaderboards (9d): the period is part of the path; any other is no such resource (404).
    re_path(
        rf"^leaderboards/(?P<period>{PERIOD_PATTERN})/$",
        LeaderboardView.as_view(),
        name="leaderboard",
    ),
]
