"""The student's video pages, mounted at /me/videos/."""

from django.urls import path

from video import views

app_name = "video"

urlpatterns = [
    path("", views.my_videos, name="list"),
    path("<str:lesson>/", views.player, name="player"),
    path("<str:lesson>/upload/", views.lesson_video_upload, name="upload"),
]
