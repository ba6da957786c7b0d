"""Lesson videos: the upload and its HLS renditions, transcoding jobs, and what learners watched.

Watch analytics keep two tables. `WatchSession` is one viewing (a page load of the player) and
`WatchInterval` the stretches of the video it played, in buckets (one second, or one percent of
a long video). Each session's first viewing of a bucket is stored apart from its re-watches
(`rewatch`), so that the first-time intervals of a session never overlap: the retention curve
("viewers still watching at each bucket") is then a difference array over two GROUP BYs.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class LessonVideo(models.Model):
    """The one video of a lesson, from upload to playable HLS ladder."""

    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    lesson = models.OneToOneField("learning.Lesson", on_delete=models.CASCADE, related_name="video")
    upload_id = models.UUIDField(
        default=uuid.uuid4, unique=True, help_text="The current upload; a new upload replaces it."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Transcoding, 0-100.")
    failure_reason = models.TextField(blank=True)
    source_path = models.CharField(max_length=500, blank=True, help_text="Under MEDIA_ROOT.")
    source_size = models.BigIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    renditions = models.JSONField(default=list, blank=True)
    hls_path = models.CharField(max_length=500, blank=True, help_text="Folder under MEDIA_ROOT.")
    thumbnail_name = models.CharField(max_length=100, blank=True)
    sprite_vtt_name = models.CharField(max_length=100, blank=True)
    captions = models.FileField(
        upload_to="videos/captions/", blank=True, help_text="WebVTT captions (.vtt), optional."
    )
    bucket_seconds = models.FloatField(
        default=1.0, help_text="Width of one watch-analytics bucket (1 s, or 1% of long videos)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="video_progress_max_100")
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"Video of lesson {self.lesson_id} ({self.status})"

    @property
    def bucket_count(self) -> int:
        if not self.duration_seconds:
            return 0
        return max(1, int(-(-self.duration_seconds // self.bucket_seconds)))


class TranscodeJob(models.Model):
    """One transcode of one upload: unique per upload, so a redelivered task finds it taken."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    video = models.ForeignKey(LessonVideo, on_delete=models.CASCADE, related_name="jobs")
    upload_id = models.UUIDField(unique=True)
    backend = models.CharField(max_length=32, default="ffmpeg")
    external_id = models.CharField(
        max_length=128, blank=True, help_text="The MediaConvert job's id (production backend)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Transcode {self.upload_id} ({self.status})"


class WatchSession(models.Model):
    """One viewing of a video: a load of the player page, named by the page's view id."""

    class Device(models.TextChoices):
        DESKTOP = "desktop", "Desktop"
        MOBILE = "mobile", "Mobile"
        TABLET = "tablet", "Tablet"

    video = models.ForeignKey(LessonVideo, on_delete=models.CASCADE, related_name="sessions")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    view_id = models.CharField(max_length=64)
    device = models.CharField(max_length=16, choices=Device.choices, default=Device.DESKTOP)
    last_seq = models.IntegerField(default=-1, help_text="Highest heartbeat number stored.")
    coverage = models.JSONField(
        default=list, help_text="Buckets seen, as merged [first, last] pairs."
    )
    covered_buckets = models.PositiveIntegerField(default=0)
    watched_seconds = models.FloatField(
        default=0, help_text="Media seconds played, re-watches too."
    )
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["video", "view_id"], name="watch_session_unique_view")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watching {self.video_id} ({self.view_id})"


class WatchInterval(models.Model):
    """Buckets [start_bucket, end_bucket] played by a session at one speed and rendition."""

    session = models.ForeignKey(WatchSession, on_delete=models.CASCADE, related_name="intervals")
    video = models.ForeignKey(LessonVideo, on_delete=models.CASCADE, related_name="+")
    start_bucket = models.PositiveIntegerField()
    end_bucket = models.PositiveIntegerField()
    rewatch = models.BooleanField(default=False)
    seconds = models.FloatField(help_text="Media seconds played in this interval.")
    speed = models.FloatField(default=1.0)
    rendition = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session_id", "start_bucket", "id"]
        indexes = [models.Index(fields=["video", "rewatch"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_bucket__gte=models.F("start_bucket")),
                name="watch_interval_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.start_bucket}-{self.end_bucket}"


class WatchPosition(models.Model):
    """Where a learner stopped in a video, to resume there."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    video = models.ForeignKey(LessonVideo, on_delete=models.CASCADE, related_name="positions")
    position_seconds = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "video"], name="watch_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.position_seconds:.0f}s of {self.video_id}"


class ReceivedHeartbeat(models.Model):
    """A player heartbeat as it arrived, waiting for `heartbeats_process` to apply it to the
    watch tables: taking a heartbeat is then one INSERT, and applying them is cheap in bulk."""

    video = models.ForeignKey(LessonVideo, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    view_id = models.CharField(max_length=64)
    seq = models.IntegerField()
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()
    position_seconds = models.FloatField()
    speed = models.FloatField(default=1.0)
    rendition = models.CharField(max_length=16, blank=True)
    device = models.CharField(max_length=16, default=WatchSession.Device.DESKTOP)
    kind = models.CharField(max_length=16, default="tick")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A resent heartbeat is stored once (the collector's INSERT ... ON CONFLICT).
            models.UniqueConstraint(
                fields=["video", "view_id", "seq"], name="received_heartbeat_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.view_id} #{self.seq}"
