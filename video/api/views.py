"""The lesson video API: upload URL, transcode, status, analytics, under /api/v1/lessons/."""

from __future__ import annotations

from dataclasses import asdict

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from learning.models import Lesson
from video.api import serializers as s
from video.models import LessonVideo
from video.selectors import video_analytics, video_for_lesson
from video.services.playback import bearer_url, playback_url
from video.services.transcoding import video_transcode_request
from video.services.uploads import video_upload_start


class _LessonVideoView(APIView):
    scope_read = "courses:read"
    scope_write = "courses:write"

    def lesson(self, external_id: str) -> Lesson:
        return get_object_or_404(Lesson.objects.select_related("course"), external_id=external_id)

    def video(self, external_id: str) -> LessonVideo:
        video = video_for_lesson(lesson_external_id=external_id)
        if video is None:
            self.lesson(external_id)  # 404 naming the lesson when it does not exist
            raise_not_found()
        return video

    def output(self, request: Request, video: LessonVideo) -> dict:
        ready = video.status == LessonVideo.Status.READY

        def url(name: str) -> str | None:
            if not ready or not name:
                return None
            if isinstance(request.auth, ApiKey):
                path = bearer_url(video=video, name=name)
            else:
                if not request.session.session_key:
                    request.session.save()
                path = playback_url(
                    video=video,
                    user=request.user,
                    session_key=request.session.session_key,
                    name=name,
                )
            return request.build_absolute_uri(path)

        return s.VideoOutputSerializer(
            {
                "lesson": video.lesson,
                "status": video.status,
                "progress": video.progress,
                "failure_reason": video.failure_reason,
                "duration_seconds": video.duration_seconds,
                "renditions": video.renditions,
                "hls_url": url("master.m3u8"),
                "thumbnail_url": url(video.thumbnail_name),
                "updated_at": video.updated_at,
            }
        ).data


def raise_not_found() -> None:
    raise NotFound("This lesson has no video yet: ask for an upload URL first.")


class LessonVideoView(_LessonVideoView):
    @extend_schema(
        responses=s.VideoOutputSerializer,
        summary="Read a lesson's video",
        description=(
            "Status (uploading, processing, ready, failed with `failure_reason`), transcoding "
            "`progress` 0-100, and once ready the renditions, a signed `hls_url` of the master "
            "playlist and the poster's `thumbnail_url`. Needs the `courses:read` scope."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        return Response(self.output(request, self.video(external_id)))


class LessonVideoUploadView(_LessonVideoView):
    @extend_schema(
        request=None,
        responses=s.UploadTargetSerializer,
        summary="Start uploading a lesson's video",
        description=(
            "Answers S3's presigned-POST shape, `{url, fields}`: POST the fields and then the "
            "file (field `file`) to `url` as multipart form data, then call `transcode`. A new "
            "upload replaces the lesson's video. Needs the `courses:write` scope."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        _, target = video_upload_start(lesson=self.lesson(external_id))
        return Response(
            {"url": request.build_absolute_uri(target.url_path), "fields": target.fields}
        )


class LessonVideoTranscodeView(_LessonVideoView):
    @extend_schema(
        request=None,
        responses={202: s.VideoOutputSerializer},
        summary="Transcode the uploaded video (or retry a failed transcode)",
        description=(
            "Checks the upload with ffprobe and transcodes it to HLS (1080p/720p/480p, never "
            "upscaled) in the background; poll the video for `progress`. Asking again while it "
            "runs changes nothing. Needs the `courses:write` scope."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        video = self.video(external_id)
        video_transcode_request(video=video)
        video.refresh_from_db()
        return Response(self.output(request, video), status=status.HTTP_202_ACCEPTED)


class LessonVideoAnalyticsView(_LessonVideoView):
    @extend_schema(
        responses=s.VideoAnalyticsSerializer,
        summary="Watch analytics of a lesson's video",
        description=(
            "Views, unique viewers, watch time, share watched, completion rate (>= 90% seen), "
            "the audience-retention curve per bucket with its biggest drop-offs, re-watched "
            "segments, and the speed, quality and device mix. Needs the `courses:read` scope."
        ),
    )
    def get(self, request: Request, external_id: str) -> Response:
        stats = asdict(video_analytics(video=self.video(external_id)))
        stats.pop("rewatch_counts")
        return Response(s.VideoAnalyticsSerializer(stats).data)
