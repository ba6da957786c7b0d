from django.urls import path

from video.api import views

urlpatterns = [
    path("lessons/<str:external_id>/video/", views.LessonVideoView.as_view(), name="lesson-video"),
    path(
        "lessons/<str:external_id>/video/upload/",
        views.LessonVideoUploadView.as_view(),
        name="lesson-video-upload",
    ),
    path(
        "lessons/<str:external_id>/video/transcode/",
        views.LessonVideoTranscodeView.as_view(),
        name="lesson-video-transcode",
    ),
    path(
        "lessons/<str:external_id>/video/analytics/",
        views.LessonVideoAnalyticsView.as_view(),
        name="lesson-video-analytics",
    ),
]
