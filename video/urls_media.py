"""Signed media endpoints, mounted at /video/: HLS files and embedded uploads."""

from django.urls import path

from video import collector, views

app_name = "video_media"

urlpatterns = [
    path("hls/<str:token>/<path:name>", views.hls_file, name="hls"),
    path("upload/<str:token>/", views.upload, name="upload"),
    # Served by video.collector in front of Django under config.wsgi; this is the same endpoint
    # for every other way of serving Stride.
    path("heartbeats/", collector.heartbeat_collect, name="heartbeats"),
]
