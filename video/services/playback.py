"""Signed, short-lived, session-bound playback URLs: /video/hls/<token>/<name>.

A token names the video's upload, the viewer and a hash of the viewer's session; it expires
after STRIDE_VIDEO_TOKEN_SECONDS. Playlists refer to renditions and segments by relative
names, so every file of the ladder is fetched under the same token. A link copied out of the
page fails in another browser (another session), for another user, once expired, or once the
learner is no longer enrolled.

In production mode (`cloudfront_enabled()`) the HLS folder's files are CloudFront signed URLs
instead (see `video.services.cloudfront`); captions, stored with the media, stay Stride's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from accounts.models import User
from learning.models import Enrollment
from video.models import LessonVideo
from video.services.cloudfront import (
    CloudFrontGrant,
    cloudfront_enabled,
    cloudfront_grant,
    cloudfront_origin,
)

PLAYBACK_SALT = "video.playback"
CAPTIONS = "captions.vtt"  # served from the media storage, not the HLS folder


@dataclass(frozen=True)
class PlaybackGrant:
    upload_id: str
    user_id: int


class PlaybackRefused(Exception):
    """The token does not let this request play; the message says why."""


def _binding(session_key: str | None) -> str:
    if not session_key:
        return ""
    return hashlib.sha256(f"{settings.SECRET_KEY}:{session_key}".encode()).hexdigest()[:24]


def can_watch(*, user: User, video: LessonVideo) -> bool:
    """Staff, the course's instructor, and learners enrolled (active or completed) may watch."""
    if not user.is_authenticated:
        return False
    if user.is_staff_account:
        return True
    course = video.lesson.course
    if course.instructor_id == user.pk:
        return True
    return Enrollment.objects.filter(
        user=user,
        course_id=course.pk,
        status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.COMPLETED],
    ).exists()


def playback_token(*, video: LessonVideo, user: User, session_key: str | None) -> str:
    """A token for `user` in this session to fetch the video's HLS files."""
    return signing.dumps(
        {"u": str(video.upload_id), "i": user.pk, "s": _binding(session_key)},
        salt=PLAYBACK_SALT,
        compress=True,
    )


def playback_url(*, video: LessonVideo, user: User, session_key: str | None, name: str) -> str:
    """The URL of one file of the video for `user` in this session (a CloudFront signed URL in
    production mode)."""
    if name != CAPTIONS and cloudfront_enabled():
        return cloudfront_grant(video=video).url(name)
    return f"/video/hls/{playback_token(video=video, user=user, session_key=session_key)}/{name}"


def bearer_url(*, video: LessonVideo, name: str) -> str:
    """A URL for an integrator (API key, no user or session): anyone holding it may play, for
    STRIDE_VIDEO_BEARER_TOKEN_SECONDS only (a CloudFront signed URL in production mode)."""
    if name != CAPTIONS and cloudfront_enabled():
        return cloudfront_grant(video=video).url(name)
    token = signing.dumps({"u": str(video.upload_id), "i": 0, "s": ""}, salt=PLAYBACK_SALT)
    return f"/video/hls/{token}/{name}"


@dataclass(frozen=True)
class PlayerSources:
    """What the player page loads; `signed_query` and `signed_folder` are set in CloudFront
    mode, for the player to sign the playlists' relative requests itself."""

    src: str
    poster: str
    thumbnails: str
    captions: str
    signed_folder: str = ""
    signed_query: str = ""
    origin: str = ""


def player_sources(*, video: LessonVideo, user: User, session_key: str | None) -> PlayerSources:
    """The URLs of the player page for `user` in this session (one signature in CloudFront
    mode, for the whole HLS folder)."""
    grant: CloudFrontGrant | None = cloudfront_grant(video=video) if cloudfront_enabled() else None

    def url(name: str) -> str:
        if not name:
            return ""
        if grant is not None and name != CAPTIONS:
            return grant.url(name)
        return (
            f"/video/hls/{playback_token(video=video, user=user, session_key=session_key)}/{name}"
        )

    return PlayerSources(
        src=url("master.m3u8"),
        poster=url(video.thumbnail_name),
        thumbnails=url(video.sprite_vtt_name),
        captions=url(CAPTIONS) if video.captions else "",
        signed_folder=grant.folder if grant else "",
        signed_query=grant.query if grant else "",
        origin=cloudfront_origin() if grant else "",
    )


def _read(token: str, max_age: int) -> dict:
    try:
        return signing.loads(token, salt=PLAYBACK_SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise PlaybackRefused("This video link has expired; reload the page.") from error
    except signing.BadSignature as error:
        raise PlaybackRefused("This video link is not valid.") from error


def playback_authorize(*, token: str, user: User, session_key: str | None) -> LessonVideo:
    """The ready video a token opens for this user and session; PlaybackRefused otherwise."""
    data = _read(token, settings.STRIDE_VIDEO_TOKEN_SECONDS)
    viewer: User | None = user
    if data.get("i") == 0:  # an integrator's bearer URL
        _read(token, settings.STRIDE_VIDEO_BEARER_TOKEN_SECONDS)
        viewer = None
    elif not user.is_authenticated or data.get("i") != user.pk:
        raise PlaybackRefused("This video link was made for someone else.")
    elif data.get("s") != _binding(session_key):
        raise PlaybackRefused("This video link belongs to another session; reload the page.")
    video = (
        LessonVideo.objects.select_related("lesson__course")
        .filter(upload_id=data.get("u"), status=LessonVideo.Status.READY)
        .first()
    )
    if video is None:
        raise PlaybackRefused("This video is no longer available.")
    if viewer is not None and not can_watch(user=viewer, video=video):
        raise PlaybackRefused("Only learners enrolled in the course can watch this video.")
    return video
