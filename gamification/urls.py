"""The student's own pages, mounted at /me/."""

from django.urls import path

from gamification import views

app_name = "gamification"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("achievements/", views.achievements, name="achievements"),
    path("leaderboards/", views.leaderboards, name="leaderboards"),
    path("league/", views.league, name="league"),
    path("xp/", views.xp_history, name="xp_history"),
    path("moments/seen/", views.moments_seen, name="moments_seen"),
    path("leaderboards/visibility/", views.leaderboard_visibility, name="leaderboard_visibility"),
]
