"""Attaching a video to a lesson: an upload URL in S3's presigned-POST shape, then the file.

Embedded mode answers `{"url", "fields"}` like S3's `generate_presigned_post`: the URL is
Stride's own upload view, carrying a signed, expiring token of the upload; the fields repeat
the key and the limits (as a policy would) for clients written against S3. The file itself is
streamed to disk by `video.uploads.VideoUploadHandler`, never held in memory.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction

from core.errors import DomainValidationError
from learning.models import Lesson
from video.models import LessonVideo, TranscodeJob
from video.services import storage

UPLOAD_SALT = "video.upload"


@dataclass(frozen=True)
class UploadTarget:
    url_path: str
    fields: dict[str, str]
    expires_in: int


@transaction.atomic
def video_upload_start(*, lesson: Lesson) -> tuple[LessonVideo, UploadTarget]:
    """Open a new upload for `lesson`'s video (replacing any earlier one) and say where to POST."""
    video = LessonVideo.objects.select_for_update().filter(lesson=lesson).first()
    if video is None:
        video = LessonVideo.objects.create(lesson=lesson)
    else:
        old = video.upload_id
        video.upload_id = uuid.uuid4()
        video.status = LessonVideo.Status.UPLOADING
        video.progress = 0
        video.failure_reason = ""
        video.source_path = ""
        video.source_size = None
        video.save()
        # A finished replaced upload's files go once the new one is in place; an unfinished
        # one's job can no longer win (the job checks the upload is still the video's).
        if not TranscodeJob.objects.filter(upload_id=old, status=TranscodeJob.Status.RUNNING):
            transaction.on_commit(lambda: storage.upload_remove(old))
    return video, upload_target(video)


def s3_mode() -> bool:
    """Uploads go straight to S3 with the production transcoder (MediaConvert reads them there)."""
    return settings.STRIDE_VIDEO_BACKEND == "mediaconvert"


def s3_client() -> Any:
    import boto3

    return boto3.client(
        "s3",
        region_name=getattr(settings, "AWS_S3_REGION_NAME", None)
        or settings.STRIDE_MEDIACONVERT_REGION,
        endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None) or None,
    )


def source_key(upload_id: uuid.UUID | str) -> str:
    return f"videos/{upload_id}/source"


def upload_target(video: LessonVideo) -> UploadTarget:
    max_bytes = settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES
    if s3_mode():
        # A presigned POST: S3 itself enforces the size range and content type of its policy.
        post = s3_client().generate_presigned_post(
            Bucket=settings.STRIDE_VIDEO_S3_BUCKET,
            Key=source_key(video.upload_id),
            Conditions=[
                ["content-length-range", 1, max_bytes],
                ["starts-with", "$Content-Type", "video/"],
            ],
            ExpiresIn=settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS,
        )
        return UploadTarget(
            url_path=post["url"],
            fields=post["fields"],
            expires_in=settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS,
        )
    token = signing.dumps({"u": str(video.upload_id), "m": max_bytes}, salt=UPLOAD_SALT)
    return UploadTarget(
        url_path=f"/video/upload/{token}/",
        fields={
            "key": f"videos/{video.upload_id}/source",
            "Content-Type": "video/*",
            "x-stride-max-bytes": str(max_bytes),
            "x-stride-expires-in": str(settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS),
        },
        expires_in=settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS,
    )


def upload_token_read(token: str) -> tuple[str, int]:
    """The upload id and byte limit a token grants; DomainValidationError when bad or expired."""
    try:
        data = signing.loads(
            token, salt=UPLOAD_SALT, max_age=settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS
        )
    except signing.SignatureExpired as error:
        raise DomainValidationError(
            {"token": ["This upload URL has expired; ask for a new one."]}, code="expired"
        ) from error
    except signing.BadSignature as error:
        raise DomainValidationError({"token": ["This upload URL is not valid."]}) from error
    return data["u"], int(data["m"])


@transaction.atomic
def video_upload_received(*, upload_id: str, size: int) -> LessonVideo:
    """Record that the file of `upload_id` is on disk (at storage.source_file)."""
    video = LessonVideo.objects.select_for_update().filter(upload_id=upload_id).first()
    if video is None:
        storage.upload_remove(upload_id)
        raise DomainValidationError(
            {"token": ["This upload was replaced by a newer one."]}, code="gone"
        )
    video.source_path = storage.relative(storage.source_file(upload_id))
    video.source_size = size
    video.status = LessonVideo.Status.UPLOADING
    video.failure_reason = ""
    video.save(
        update_fields=["source_path", "source_size", "status", "failure_reason", "updated_at"]
    )
    return video


def video_upload_file(*, lesson: Lesson, file: Any) -> LessonVideo:
    """Attach `file` (a Django UploadedFile, e.g. from the admin) to `lesson` as a new upload.

    Django's upload handlers have already spooled a large file to a temporary file; it is
    moved into place, not read into memory.
    """
    video, _ = video_upload_start(lesson=lesson)
    destination = storage.source_file(video.upload_id)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = getattr(file, "temporary_file_path", None)
    if temporary is not None:
        shutil.move(temporary(), destination)
    else:
        with destination.open("wb") as out:
            for chunk in file.chunks():
                out.write(chunk)
    return video_upload_received(upload_id=str(video.upload_id), size=destination.stat().st_size)


def video_upload_in_s3(*, video: LessonVideo) -> LessonVideo | None:
    """Record the upload the client POSTed to S3, if it is there (S3 mode); None if not."""
    from botocore.exceptions import ClientError

    try:
        head = s3_client().head_object(
            Bucket=settings.STRIDE_VIDEO_S3_BUCKET, Key=source_key(video.upload_id)
        )
    except ClientError:
        return None
    LessonVideo.objects.filter(pk=video.pk).update(
        source_path=source_key(video.upload_id), source_size=head["ContentLength"]
    )
    video.refresh_from_db()
    return video


def can_manage_video(*, user: Any, lesson: Lesson) -> bool:
    """Staff and the instructor of the lesson's course may attach or replace its video."""
    if not user.is_authenticated:
        return False
    return user.is_staff_account or lesson.course.instructor_id == user.pk
