"""Video pages: the student's player under /me/videos/, the signed HLS and upload endpoints
under /video/, and the staff analytics dashboard under /dashboard/videos/."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.api import error_body
from core.errors import DomainValidationError
from core.views import staff_required
from engagement.charts import figure_html
from video import charts
from video.collector import PATH as HEARTBEAT_PATH
from video.models import LessonVideo
from video.selectors import (
    lesson_for_video_page,
    video_analytics,
    video_for_lesson,
    video_list,
    video_summaries,
    videos_for_learner,
    watch_position,
)
from video.services import storage
from video.services.playback import (
    PlaybackRefused,
    can_watch,
    playback_authorize,
    player_sources,
)
from video.services.transcoding import video_replace
from video.services.uploads import can_manage_video, upload_token_read, video_upload_received
from video.services.watching import heartbeat_token
from video.upload_handler import VideoUploadHandler

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".vtt": "text/vtt",
    ".jpg": "image/jpeg",
}


def _error(fields: dict, status: int, code: str = "invalid") -> JsonResponse:
    """The API's one error shape, for the JSON endpoints outside DRF."""
    summary = DomainValidationError(fields).summary()
    return JsonResponse(error_body(code, summary, fields), status=status)


# --- Student pages ---------------------------------------------------------------------------


@login_required
@require_GET
def my_videos(request: HttpRequest) -> HttpResponse:
    videos = list(videos_for_learner(user=request.user)[:200])
    return render(request, "video/list.html", {"videos": videos})


def _watchable(request: HttpRequest, lesson: str) -> LessonVideo:
    video = video_for_lesson(lesson_external_id=lesson[:128])
    if video is None or video.status != LessonVideo.Status.READY:
        raise Http404("This lesson has no video to play.")
    if not can_watch(user=request.user, video=video):
        raise PermissionDenied("Only learners enrolled in the course can watch this video.")
    return video


@login_required
@require_GET
@never_cache
def player(request: HttpRequest, lesson: str) -> HttpResponse:
    try:
        video = _watchable(request, lesson)
    except Http404:
        # Staff and the course's instructor land on the upload page of a lesson without video.
        target = lesson_for_video_page(lesson_external_id=lesson[:128])
        if target is not None and can_manage_video(user=request.user, lesson=target):
            return redirect("video:upload", lesson=target.external_id)
        raise
    if not request.session.session_key:
        request.session.save()
    sources = player_sources(
        video=video, user=request.user, session_key=request.session.session_key
    )
    config = {
        "src": sources.src,
        "poster": sources.poster,
        "thumbnails": sources.thumbnails,
        "captions": sources.captions,
        "signedFolder": sources.signed_folder,
        "signedQuery": sources.signed_query,
        "resume": watch_position(user=request.user, video=video),
        "duration": video.duration_seconds,
        "renditions": [r["name"] for r in video.renditions],
        "heartbeat": HEARTBEAT_PATH,
        "heartbeatToken": heartbeat_token(video=video, user=request.user),
        "interval": settings.STRIDE_VIDEO_HEARTBEAT_SECONDS,
    }
    response = render(
        request,
        "video/player.html",
        {
            "video": video,
            "config": config,
            "can_manage": can_manage_video(user=request.user, lesson=video.lesson),
        },
    )
    if sources.origin:  # the CDN serves the playlists, segments and images
        response._csp_update = {
            "connect-src": [sources.origin],
            "media-src": [sources.origin],
            "img-src": [sources.origin],
        }
    return response


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def lesson_video_upload(request: HttpRequest, lesson: str) -> HttpResponse:
    """The lesson's video page for staff and the course's instructor: attach or replace it."""
    target = lesson_for_video_page(lesson_external_id=lesson[:128])
    if target is None:
        raise Http404("There is no such lesson.")
    if not can_manage_video(user=request.user, lesson=target):
        raise PermissionDenied("Only staff and the course's instructor can change its video.")
    max_bytes = settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if int(request.META.get("CONTENT_LENGTH") or 0) > max_bytes + 2**20:  # before reading
            errors, status = [f"The file is larger than the limit of {max_bytes:,} bytes."], 413
        elif "file" not in request.FILES:
            errors, status = ["Choose a video file to upload."], 400
        else:
            try:
                video_replace(lesson=target, file=request.FILES["file"])
            except DomainValidationError as error:
                errors = error.fields.get("file") or [error.messages_text()]
                status = 413 if error.code == "too_large" else 400
            else:
                messages.success(request, "Uploaded. The video is being transcoded.")
                return redirect("video:upload", lesson=target.external_id)
    try:
        video = target.video
    except LessonVideo.DoesNotExist:
        video = None
    context = {"lesson": target, "video": video, "errors": errors, "max_bytes": max_bytes}
    return render(request, "video/upload.html", context, status=status)


# --- Signed media and uploads ------------------------------------------------------------------


@require_GET
def hls_file(request: HttpRequest, token: str, name: str) -> HttpResponse:
    """One file of a video's HLS ladder (or its poster, sprite, captions) for a valid token."""
    try:
        video = playback_authorize(
            token=token, user=request.user, session_key=request.session.session_key
        )
    except PlaybackRefused as refused:
        return HttpResponse(str(refused), status=403, content_type="text/plain; charset=utf-8")
    if name == "captions.vtt":
        if not video.captions:
            raise Http404
        path = Path(video.captions.path)
    else:
        root = storage.absolute(video.hls_path).resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise Http404
    content_type = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    response = FileResponse(
        path.open("rb"), content_type=content_type or "application/octet-stream"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@csrf_exempt  # the signed token in the URL is the credential; no cookie is involved
@require_POST
def upload(request: HttpRequest, token: str) -> HttpResponse:
    """Receive the file of a signed upload (multipart, field "file"), streamed to disk."""
    try:
        upload_id, max_bytes = upload_token_read(token)
    except DomainValidationError as error:
        return _error(error.fields, 403, error.code)
    too_large = _error(
        {"file": [f"The file is larger than the limit of {max_bytes:,} bytes."]}, 413, "too_large"
    )
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > max_bytes + 2**20:  # the multipart envelope adds a little
        return too_large
    handler = VideoUploadHandler(storage.source_file(upload_id), max_bytes, request)
    request.upload_handlers = [handler]
    files = request.FILES
    if handler.too_large:
        return too_large
    if "file" not in files:
        return _error({"file": ['Send the video as the multipart field "file".']}, 400)
    try:
        video_upload_received(upload_id=upload_id, size=handler.received)
    except DomainValidationError as error:
        return _error(error.fields, 410, error.code)
    return HttpResponse(status=204)


# --- Staff dashboard ---------------------------------------------------------------------------


@staff_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    videos = list(video_list()[:500])
    summaries = video_summaries(videos=videos)
    rows = [(video, summaries.get(video.pk, {})) for video in videos]
    return render(request, "video/dashboard.html", {"rows": rows})


@staff_required
@require_GET
def dashboard_video(request: HttpRequest, lesson: str) -> HttpResponse:
    video = video_for_lesson(lesson_external_id=lesson[:128])
    if video is None:
        raise Http404("This lesson has no video.")
    stats = video_analytics(video=video)
    figures = {
        "retention": figure_html(charts.retention_figure(stats), div_id="retention-chart"),
        "speeds": figure_html(charts.share_figure(stats.speeds, "Speed"), div_id="speed-chart"),
        "renditions": figure_html(
            charts.share_figure(stats.renditions, "Quality"), div_id="quality-chart"
        ),
        "devices": figure_html(
            charts.share_figure({k: float(v) for k, v in stats.devices.items()}, "Devices"),
            div_id="device-chart",
        ),
    }
    return render(
        request, "video/dashboard_video.html", {"video": video, "stats": stats, "figures": figures}
    )
