"""Admin for lesson videos, transcode jobs and watch data; actions call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.errors import DomainValidationError
from video.models import (
    LessonVideo,
    ReceivedHeartbeat,
    TranscodeJob,
    WatchInterval,
    WatchPosition,
    WatchSession,
)
from video.services.transcoding import video_transcode_request
from video.services.uploads import video_upload_file


class LessonVideoForm(forms.ModelForm):
    file = forms.FileField(
        required=False,
        help_text="A video file: uploading one replaces the lesson's video and transcodes it.",
    )

    class Meta:
        model = LessonVideo
        fields = ["lesson", "captions"]


class TranscodeJobInline(admin.TabularInline):
    model = TranscodeJob
    extra = 0
    can_delete = False
    fields = ["upload_id", "status", "attempts", "claimed_at", "finished_at", "error"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LessonVideo)
class LessonVideoAdmin(admin.ModelAdmin):
    list_display = ["lesson", "status", "progress", "duration_seconds", "updated_at"]
    list_filter = ["status"]
    search_fields = ["lesson__external_id", "lesson__title"]
    list_select_related = ["lesson"]
    raw_id_fields = ["lesson"]
    readonly_fields = [
        "upload_id",
        "status",
        "progress",
        "failure_reason",
        "source_path",
        "source_size",
        "duration_seconds",
        "width",
        "height",
        "renditions",
        "hls_path",
        "thumbnail_name",
        "sprite_vtt_name",
        "bucket_seconds",
        "created_at",
        "updated_at",
    ]
    form = LessonVideoForm
    inlines = [TranscodeJobInline]
    actions = ["transcode"]

    def save_model(self, request: HttpRequest, obj: LessonVideo, form, change: bool) -> None:
        file = form.cleaned_data.get("file")
        if not change and file is None:
            super().save_model(request, obj, form, change)
            return
        if file is None:
            obj.save(update_fields=["captions", "updated_at"])
            return
        video = video_upload_file(lesson=obj.lesson, file=file)
        captions = form.cleaned_data.get("captions")
        if captions and hasattr(captions, "chunks"):  # captions uploaded with the video
            video.captions.save(captions.name, captions)
        try:
            video_transcode_request(video=video)
        except DomainValidationError as error:
            self.message_user(request, error.messages_text(), messages.ERROR)
        obj.pk = video.pk
        obj.refresh_from_db()

    @admin.action(description="Transcode (or retry) the selected videos")
    def transcode(self, request: HttpRequest, queryset: QuerySet[LessonVideo]) -> None:
        for video in queryset:
            try:
                video_transcode_request(video=video)
            except DomainValidationError as error:
                self.message_user(request, f"{video}: {error.messages_text()}", messages.ERROR)
            else:
                self.message_user(request, f"{video}: transcoding queued.")


@admin.register(TranscodeJob)
class TranscodeJobAdmin(admin.ModelAdmin):
    list_display = ["upload_id", "video", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "backend"]
    search_fields = ["upload_id"]
    readonly_fields = [f.name for f in TranscodeJob._meta.fields]


@admin.register(WatchSession)
class WatchSessionAdmin(admin.ModelAdmin):
    list_display = ["view_id", "video", "user", "device", "covered_buckets", "started_at"]
    list_filter = ["device"]
    search_fields = ["view_id", "user__email"]
    raw_id_fields = ["video", "user"]
    readonly_fields = [f.name for f in WatchSession._meta.fields]


@admin.register(WatchInterval)
class WatchIntervalAdmin(admin.ModelAdmin):
    list_display = ["session", "start_bucket", "end_bucket", "rewatch", "speed", "rendition"]
    list_filter = ["rewatch", "rendition"]
    raw_id_fields = ["session", "video"]
    readonly_fields = [f.name for f in WatchInterval._meta.fields]


@admin.register(WatchPosition)
class WatchPositionAdmin(admin.ModelAdmin):
    list_display = ["user", "video", "position_seconds", "updated_at"]
    raw_id_fields = ["user", "video"]
    search_fields = ["user__email"]


@admin.register(ReceivedHeartbeat)
class ReceivedHeartbeatAdmin(ReadOnlyAdmin):
    """Heartbeats taken by the collector and not yet applied (seconds, unless no worker runs)."""

    list_display = ["view_id", "seq", "video", "user", "kind", "received_at"]
    list_filter = ["kind"]
    raw_id_fields = ["video", "user"]
