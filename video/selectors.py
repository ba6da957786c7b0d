"""Video's read side: a lesson's video, a learner's videos, and per-video watch analytics."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Avg, Count, F, Q, QuerySet, Sum

from accounts.models import User
from learning.models import Enrollment, Lesson
from video import retention
from video.models import LessonVideo, WatchInterval, WatchPosition, WatchSession

COMPLETION_SHARE = 0.9  # a view "completes" the video when it has seen 90% of it


def video_for_lesson(*, lesson_external_id: str) -> LessonVideo | None:
    """The video of a lesson (one query), or None."""
    return (
        LessonVideo.objects.select_related("lesson__course")
        .filter(lesson__external_id=lesson_external_id)
        .first()
    )


def video_list() -> QuerySet[LessonVideo]:
    return LessonVideo.objects.select_related("lesson__course").order_by(
        "lesson__course__title", "lesson__position", "id"
    )


def videos_for_learner(*, user: User) -> QuerySet[LessonVideo]:
    """The ready videos of the courses `user` is enrolled in (everything, for staff)."""
    videos = video_list().filter(status=LessonVideo.Status.READY)
    if user.is_staff_account:
        return videos
    return videos.filter(
        Q(lesson__course__instructor=user)
        | Q(
            lesson__course__enrollments__user=user,
            lesson__course__enrollments__status__in=[
                Enrollment.Status.ACTIVE,
                Enrollment.Status.COMPLETED,
            ],
        )
    ).distinct()


def watch_position(*, user: User, video: LessonVideo) -> float:
    """Where `user` stopped in `video` (0 if never watched or watched to the end)."""
    row = WatchPosition.objects.filter(user=user, video=video).values_list(
        "position_seconds", flat=True
    )
    return float(row[0]) if row else 0.0


@dataclass(frozen=True)
class VideoAnalytics:
    views: int
    unique_viewers: int
    total_watch_seconds: float
    average_watch_seconds: float
    average_share_watched: float  # 0-1
    completion_rate: float  # 0-1
    bucket_seconds: float
    retention: list[float] = field(default_factory=list)  # share of views at each bucket
    drop_offs: list[dict[str, float]] = field(default_factory=list)
    rewatched: list[dict[str, float]] = field(default_factory=list)
    rewatch_counts: list[int] = field(default_factory=list)
    speeds: dict[str, float] = field(default_factory=dict)  # share of watch time
    renditions: dict[str, float] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)  # views


def video_analytics(*, video: LessonVideo) -> VideoAnalytics:
    """Every figure of one video's analytics, in six aggregate queries whatever the views."""
    buckets = video.bucket_count
    sessions = WatchSession.objects.filter(video=video)
    totals = sessions.aggregate(
        views=Count("id"),
        viewers=Count("user_id", distinct=True),
        watched=Sum("watched_seconds"),
        covered=Avg("covered_buckets"),
        completed=Count("id", filter=Q(covered_buckets__gte=COMPLETION_SHARE * buckets)),
    )
    views = totals["views"] or 0
    devices = dict(sessions.values_list("device").annotate(n=Count("id")).order_by("device"))
    intervals = WatchInterval.objects.filter(video=video)
    starts = intervals.values_list("rewatch", "start_bucket").annotate(n=Count("id")).order_by()
    ends = intervals.values_list("rewatch", "end_bucket").annotate(n=Count("id")).order_by()
    starts_rows, ends_rows = list(starts), list(ends)
    first_views = retention.curve(
        [(b, n) for r, b, n in starts_rows if not r],
        [(b, n) for r, b, n in ends_rows if not r],
        buckets,
    )
    rewatches = retention.curve(
        [(b, n) for r, b, n in starts_rows if r], [(b, n) for r, b, n in ends_rows if r], buckets
    )
    shares = [round(float(v) / views, 4) for v in first_views] if views else [0.0] * buckets
    by_speed = intervals.values_list("speed").annotate(s=Sum("seconds")).order_by("speed")
    by_rendition = (
        intervals.values_list("rendition").annotate(s=Sum("seconds")).order_by("rendition")
    )
    watched = float(totals["watched"] or 0)
    width = video.bucket_seconds
    return VideoAnalytics(
        views=views,
        unique_viewers=totals["viewers"] or 0,
        total_watch_seconds=round(watched, 1),
        average_watch_seconds=round(watched / views, 1) if views else 0.0,
        average_share_watched=round(float(totals["covered"] or 0) / buckets, 4) if buckets else 0,
        completion_rate=round(totals["completed"] / views, 4) if views else 0.0,
        bucket_seconds=width,
        retention=shares,
        drop_offs=[
            {"at_seconds": round(s.last * width, 1), "share_lost": round(s.value, 4)}
            for s in retention.biggest_drops(shares)
        ],
        rewatched=[
            {
                "from_seconds": round(s.first * width, 1),
                "to_seconds": round((s.last + 1) * width, 1),
                "rewatches": int(s.value),
            }
            for s in retention.hot_segments([int(v) for v in rewatches])
        ],
        rewatch_counts=[int(v) for v in rewatches],
        speeds=_shares({f"{speed:g}x": s for speed, s in by_speed}),
        renditions=_shares({(name or "auto"): s for name, s in by_rendition}),
        devices=devices,
    )


def _shares(seconds: dict[str, float]) -> dict[str, float]:
    total = sum(seconds.values())
    return {k: round(v / total, 4) for k, v in seconds.items()} if total else {}


def video_summaries(*, videos: list[LessonVideo]) -> dict[int, dict[str, float]]:
    """Views, viewers and completion rate of each video, in one query."""
    rows = (
        WatchSession.objects.filter(video__in=videos)
        .values("video_id")
        .annotate(
            views=Count("id"),
            viewers=Count("user_id", distinct=True),
            watched=Sum("watched_seconds"),
            completed=Count(
                "id",
                filter=Q(
                    covered_buckets__gte=COMPLETION_SHARE
                    * F("video__duration_seconds")
                    / F("video__bucket_seconds")
                ),
            ),
        )
        .order_by()
    )
    return {row["video_id"]: row for row in rows}


def lesson_for_video_page(*, lesson_external_id: str) -> Lesson | None:
    """A lesson with its course and its video, if any (one query), or None."""
    return (
        Lesson.objects.select_related("course", "video")
        .filter(external_id=lesson_external_id)
        .first()
    )
