"""Player heartbeats: the watched interval into the watch tables and a pending `video_progress`
event, in one transaction; the pending events go into engagement's ingestion in bulk.

The player numbers its heartbeats per view (page load); a heartbeat whose number is not above
the last stored one for that view is a retry and stores nothing. The event's id is
"video-<view>-<seq>", so engagement de-duplicates it by idempotency key as well.

Ingestion costs some forty queries per call (catalogue, lesson progress, XP, streaks,
achievements, handlers) whether it is handed one event or a thousand, so a heartbeat does not
call it: it records the event in `PendingProgressEvent`, and `progress_events_flush` (every
minute, from beat) hands them over a few thousand at a time. A heartbeat is then ten queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.errors import DomainValidationError, invalid_choice_message
from engagement.services.ingestion import events_ingest
from video import retention
from video.models import (
    LessonVideo,
    PendingProgressEvent,
    WatchInterval,
    WatchPosition,
    WatchSession,
)

EVENT_SOURCE = "video-player"
SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
KINDS = ("tick", "pause", "seek", "ended", "quality", "speed")
FLUSH_BATCH = 5000


@dataclass(frozen=True)
class Heartbeat:
    view_id: str
    seq: int
    start: float  # media seconds played from ...
    end: float  # ... to (start == end: nothing played, e.g. a pause right after a seek)
    position: float
    speed: float = 1.0
    rendition: str = ""
    device: str = "desktop"
    kind: str = "tick"


@dataclass(frozen=True)
class HeartbeatResult:
    stored: bool
    percent: float


def _check(beat: Heartbeat, video: LessonVideo) -> None:
    errors: dict[str, list[str]] = {}
    duration = video.duration_seconds or 0
    if not beat.view_id or len(beat.view_id) > 64:
        errors["view_id"] = ["Must be 1 to 64 characters."]
    if beat.seq < 0:
        errors["seq"] = ["Must be 0 or more."]
    for name in ("start", "end", "position"):
        value = getattr(beat, name)
        if not math.isfinite(value) or value < 0 or value > duration + 1:
            errors[name] = [f"Must be between 0 and the video's length ({duration:.0f} s)."]
    if "start" not in errors and "end" not in errors and beat.end < beat.start:
        errors["end"] = ["Must not be before start."]
    if beat.speed not in SPEEDS:
        errors["speed"] = [invalid_choice_message(f"{beat.speed:g}", [f"{s:g}" for s in SPEEDS])]
    if beat.device not in WatchSession.Device.values:
        errors["device"] = [invalid_choice_message(beat.device, WatchSession.Device.values)]
    if beat.kind not in KINDS:
        errors["kind"] = [invalid_choice_message(beat.kind, KINDS)]
    if (
        beat.rendition
        and beat.rendition != "auto"
        and beat.rendition not in {r["name"] for r in video.renditions}
    ):
        errors["rendition"] = [
            invalid_choice_message(beat.rendition, ["auto", *[r["name"] for r in video.renditions]])
        ]
    if errors:
        raise DomainValidationError(errors)


@transaction.atomic
def heartbeat_record(*, user: User, video: LessonVideo, beat: Heartbeat) -> HeartbeatResult:
    """Store one heartbeat of `user` watching `video` (once, however often it is sent)."""
    if video.status != LessonVideo.Status.READY:
        raise DomainValidationError({"video": ["This video is not ready to play."]})
    _check(beat, video)
    now = timezone.now()
    # Every heartbeat after a view's first finds its session: lock it in one query.
    session = (
        WatchSession.objects.select_for_update().filter(video=video, view_id=beat.view_id).first()
    )
    if session is None:
        session, _ = WatchSession.objects.get_or_create(
            video=video,
            view_id=beat.view_id,
            defaults={"user": user, "device": beat.device, "started_at": now},
        )
        session = WatchSession.objects.select_for_update().get(pk=session.pk)
    if session.user_id != user.pk:
        raise DomainValidationError({"view_id": ["This view belongs to someone else."]})
    duration = video.duration_seconds or 0
    if beat.seq <= session.last_seq:
        return HeartbeatResult(stored=False, percent=_percent(session, video))

    if beat.end > beat.start:
        width = video.bucket_seconds
        last_bucket = video.bucket_count - 1
        first = min(int(beat.start // width), last_bucket)
        # The end is exclusive: a stretch ending exactly on a boundary does not touch the next.
        last = min(max(first, math.ceil(beat.end / width) - 1), last_bucket)
        new, seen, merged = retention.split_new(session.coverage, first, last)
        pieces = [(a, b, False) for a, b in new] + [(a, b, True) for a, b in seen]
        total = sum(b - a + 1 for a, b, _ in pieces)
        played = beat.end - beat.start
        WatchInterval.objects.bulk_create(
            WatchInterval(
                session=session,
                video=video,
                start_bucket=a,
                end_bucket=b,
                rewatch=rewatch,
                seconds=played * (b - a + 1) / total,
                speed=beat.speed,
                rendition=beat.rendition,
                created_at=now,
            )
            for a, b, rewatch in pieces
        )
        session.coverage = [list(pair) for pair in merged]
        session.covered_buckets = retention.covered(merged)
        session.watched_seconds += played
    session.last_seq = beat.seq
    session.save(
        update_fields=["coverage", "covered_buckets", "watched_seconds", "last_seq", "updated_at"]
    )
    position = 0.0 if beat.kind == "ended" else min(beat.position, duration)
    # One upsert (update_or_create would be a savepoint, a select and a write).
    WatchPosition.objects.bulk_create(
        [WatchPosition(user=user, video=video, position_seconds=position, updated_at=now)],
        update_conflicts=True,
        unique_fields=["user", "video"],
        update_fields=["position_seconds", "updated_at"],
    )
    percent = _percent(session, video)
    if user.external_id:
        lesson = video.lesson
        client_id = f"video-{beat.view_id}-{beat.seq}"
        PendingProgressEvent.objects.create(
            client_id=client_id,
            created_at=now,
            item={
                "id": client_id,
                "type": "video_progress",
                "user": user.external_id,
                "course": lesson.course.external_id,
                "lesson": lesson.external_id,
                "occurred_at": now.isoformat(),
                "device": beat.device,
                "session_id": beat.view_id,
                "properties": {
                    "percent": percent,
                    "position_seconds": round(min(beat.position, duration), 3),
                    "duration_seconds": round(duration, 3),
                    "video": str(video.upload_id),
                    "speed": beat.speed,
                    "rendition": beat.rendition,
                    "kind": beat.kind,
                },
            },
        )
    return HeartbeatResult(stored=True, percent=percent)


def progress_events_flush(*, batch: int = FLUSH_BATCH) -> int:
    """Hand every pending `video_progress` event to engagement's ingestion; return how many.

    Each batch is claimed (skip_locked, so two flushes share the work), ingested and deleted in
    one transaction: a flush that dies leaves its batch pending, and the next one sends it
    again, which ingestion de-duplicates by the events' ids.
    """
    total = 0
    while True:
        with transaction.atomic():
            pending = list(
                PendingProgressEvent.objects.select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("pk", "item")[:batch]
            )
            if not pending:
                return total
            events_ingest(source=EVENT_SOURCE, items=[item for _, item in pending])
            PendingProgressEvent.objects.filter(pk__in=[pk for pk, _ in pending]).delete()
        total += len(pending)


def _percent(session: WatchSession, video: LessonVideo) -> float:
    count = video.bucket_count
    return round(min(100.0, 100.0 * session.covered_buckets / count), 1) if count else 0.0
