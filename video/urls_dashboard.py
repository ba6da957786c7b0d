"""The staff video analytics pages, mounted at /dashboard/videos/."""

from django.urls import path

from video import views

app_name = "video_dashboard"

urlpatterns = [
    path("", views.dashboard, name="list"),
    path("<str:lesson>/", views.dashboard_video, name="detail"),
]
