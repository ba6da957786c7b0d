"""Signed media endpoints, mounted at /video/: HLS files and embedded uploads."""

from django.urls import path

from video import views

app_name = "video_media"

urlpatterns = [
    path("hls/<str:token>/<path:name>", views.hls_file, name="hls"),
    path("upload/<str:token>/", views.upload, name="upload"),
]
