"""Player heartbeats: accepted one at a time, applied to the watch tables in bulk.

A heartbeat is the hottest request Stride answers (every viewer, every ten seconds), so taking
one costs a signature check and one INSERT into `ReceivedHeartbeat`, nothing else: the player
page hands the player a signed heartbeat token naming the learner, the video's upload and the
view (`heartbeat_token`), so the request needs no session, user or enrollment lookup, and the
video's few checked facts (ready, length, renditions) are cached for VIDEO_FACTS_SECONDS.
`video.collector` answers it outside Django's request cycle.

`heartbeats_process` (from beat, every few seconds) then claims the received heartbeats a few
thousand at a time and applies each view's in order, as one batch: watched intervals, sessions,
resume positions, and their `video_progress` events into engagement's ingestion, which is cheap
per event only in bulk. A heartbeat whose number is not above the last one applied for its view
is a retry and changes nothing; the event's id is "video-<view>-<seq>", so engagement
de-duplicates it by idempotency key as well.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from core.errors import DomainValidationError, invalid_choice_message
from engagement.services.ingestion import events_ingest
from video import retention
from video.models import (
    LessonVideo,
    ReceivedHeartbeat,
    WatchInterval,
    WatchPosition,
    WatchSession,
)

EVENT_SOURCE = "video-player"
SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
KINDS = ("tick", "pause", "seek", "ended", "quality", "speed")
PROCESS_BATCH = 5000
TOKEN_SALT = "stride.video.heartbeat"
# A video that stops being playable (replaced, failed) refuses heartbeats within this time.
VIDEO_FACTS_SECONDS = 30.0


class HeartbeatRefused(Exception):
    """The heartbeat token is missing, forged or expired (a 403: reload the page)."""


@dataclass(frozen=True)
class Heartbeat:
    seq: int
    start: float  # media seconds played from ...
    end: float  # ... to (start == end: nothing played, e.g. a pause right after a seek)
    position: float
    speed: float = 1.0
    rendition: str = ""
    device: str = "desktop"
    kind: str = "tick"


@dataclass(frozen=True)
class VideoFacts:
    """What checking a heartbeat needs to know of its video."""

    pk: int
    duration: float
    renditions: frozenset[str]


# --- Taking a heartbeat ------------------------------------------------------------------------


def heartbeat_token(*, video: LessonVideo, user: User, view_id: str | None = None) -> str:
    """The player's credential for the heartbeats of one view (a page load) of `video` by
    `user`, valid STRIDE_VIDEO_TOKEN_SECONDS; a new upload of the video voids it. The page
    checked that the user may watch; the view id is chosen here unless given."""
    view = view_id or uuid.uuid4().hex
    return signing.dumps(
        {"v": str(video.upload_id), "u": user.pk, "w": view}, salt=TOKEN_SALT, compress=True
    )


def _token_read(token: str) -> tuple[str, int, str]:
    if not token:
        raise HeartbeatRefused("Send the player's heartbeat token.")
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=settings.STRIDE_VIDEO_TOKEN_SECONDS)
    except signing.SignatureExpired as error:
        raise HeartbeatRefused("This player has expired; reload the page.") from error
    except signing.BadSignature as error:
        raise HeartbeatRefused("This heartbeat token is not valid.") from error
    return data["v"], data["u"], data["w"]


_facts: dict[str, tuple[float, VideoFacts | None]] = {}
_facts_lock = threading.Lock()


def _video_facts(upload_id: str) -> VideoFacts | None:
    """The ready video of an upload, cached per process (a few rows, read once a half-minute)."""
    now = time.monotonic()
    cached = _facts.get(upload_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = (
        LessonVideo.objects.filter(upload_id=upload_id, status=LessonVideo.Status.READY)
        .values_list("pk", "duration_seconds", "renditions")
        .first()
    )
    facts = (
        VideoFacts(row[0], row[1] or 0.0, frozenset(r["name"] for r in row[2] or []))
        if row
        else None
    )
    with _facts_lock:
        if len(_facts) > 10_000:  # old uploads' entries
            _facts.clear()
        _facts[upload_id] = (now + VIDEO_FACTS_SECONDS, facts)
    return facts


def _number(
    body: Mapping[str, Any], name: str, errors: dict, default: float | None = None
) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[name] = ["Must be a number."]
        return 0.0
    return float(value)


def _text(body: Mapping[str, Any], name: str, errors: dict, default: str = "") -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
        return ""
    return value


def heartbeat_parse(body: bytes, facts: VideoFacts) -> Heartbeat:
    """The heartbeat in a request body, checked against its video; DomainValidationError
    naming every bad field otherwise."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise DomainValidationError({"non_field_errors": ["Send a JSON object."]})
    errors: dict[str, list[str]] = {}
    seq = data.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        errors["seq"] = ["Must be an integer."]
        seq = 0
    elif not 0 <= seq < 2**31:
        errors["seq"] = ["Must be 0 or more."]
    beat = Heartbeat(
        seq=seq,
        start=_number(data, "start", errors),
        end=_number(data, "end", errors),
        position=_number(data, "position", errors),
        speed=_number(data, "speed", errors, 1.0),
        rendition=_text(data, "rendition", errors),
        device=_text(data, "device", errors, "desktop"),
        kind=_text(data, "kind", errors, "tick"),
    )
    duration = facts.duration
    for name in ("start", "end", "position"):
        value = getattr(beat, name)
        if name not in errors and (not math.isfinite(value) or value < 0 or value > duration + 1):
            errors[name] = [f"Must be between 0 and the video's length ({duration:.0f} s)."]
    if "start" not in errors and "end" not in errors and beat.end < beat.start:
        errors["end"] = ["Must not be before start."]
    if "speed" not in errors and beat.speed not in SPEEDS:
        errors["speed"] = [invalid_choice_message(f"{beat.speed:g}", [f"{s:g}" for s in SPEEDS])]
    if "device" not in errors and beat.device not in WatchSession.Device.values:
        errors["device"] = [invalid_choice_message(beat.device, WatchSession.Device.values)]
    if "kind" not in errors and beat.kind not in KINDS:
        errors["kind"] = [invalid_choice_message(beat.kind, KINDS)]
    if beat.rendition and beat.rendition != "auto" and beat.rendition not in facts.renditions:
        errors["rendition"] = [
            invalid_choice_message(beat.rendition, ["auto", *sorted(facts.renditions)])
        ]
    if errors:
        raise DomainValidationError(errors)
    return beat


def heartbeat_accept(*, token: str, body: bytes) -> bool:
    """Take one heartbeat: check its token and fields, store it for `heartbeats_process`.
    False when the same heartbeat (view and number) is already waiting. Raises
    HeartbeatRefused for a bad token, DomainValidationError for bad fields or a video that
    cannot be played."""
    upload_id, user_id, view_id = _token_read(token)
    facts = _video_facts(upload_id)
    if facts is None:
        raise DomainValidationError({"video": ["This video is not ready to play."]})
    beat = heartbeat_parse(body, facts)
    values = [
        facts.pk, user_id, view_id, beat.seq, beat.start, beat.end,
        min(beat.position, facts.duration), beat.speed, beat.rendition, beat.device, beat.kind,
        timezone.now(),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), values)
        return cursor.fetchone() is not None


def _insert_sql(vendor: str) -> str:
    """One statement storing a heartbeat; the unique view and number make a resent one a
    no-op. On PostgreSQL the statement's own transaction does not wait for the WAL flush,
    which is most of a heartbeat's time (3.9 ms -> 0.6 ms in process): a crash of PostgreSQL
    itself may lose the last fraction of a second of heartbeats, never corrupt anything, and
    only these rows (set_config(..., true) lasts for this one implicit transaction)."""
    table = ReceivedHeartbeat._meta.db_table
    columns = (
        "video_id, user_id, view_id, seq, start_seconds, end_seconds, position_seconds, speed, "
        "rendition, device, kind, received_at"
    )
    params = ", ".join(["%s"] * 12)
    if vendor == "postgresql":
        source = f"SELECT {params} FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s"
    else:
        source = f"VALUES ({params})"
    return (
        f"INSERT INTO {table} ({columns}) {source} "
        "ON CONFLICT (video_id, view_id, seq) DO NOTHING RETURNING id"
    )


# --- Applying them -----------------------------------------------------------------------------


def heartbeats_process(*, batch: int = PROCESS_BATCH) -> int:
    """Apply every received heartbeat to the watch tables and hand their `video_progress`
    events to engagement's ingestion; return how many were taken.

    Each batch is claimed (skip_locked, so two workers share the work), applied and deleted in
    one transaction: a worker that dies leaves its batch to the next, and a heartbeat already
    applied (its number not above its view's last) changes nothing.
    """
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                ReceivedHeartbeat.objects.select_for_update(skip_locked=True).order_by("id")[:batch]
            )
            if not rows:
                return total
            _apply(rows)
            ReceivedHeartbeat.objects.filter(pk__in=[row.pk for row in rows]).delete()
        total += len(rows)


def _sessions(rows: list[ReceivedHeartbeat]) -> dict[tuple[int, str], WatchSession]:
    """The (locked) session of every view in `rows`, created for views seen the first time."""
    keys = {(row.video_id, row.view_id) for row in rows}

    def locked() -> dict[tuple[int, str], WatchSession]:
        found = WatchSession.objects.select_for_update().filter(
            video_id__in={v for v, _ in keys}, view_id__in={w for _, w in keys}
        )
        return {(s.video_id, s.view_id): s for s in found if (s.video_id, s.view_id) in keys}

    sessions = locked()
    first: dict[tuple[int, str], ReceivedHeartbeat] = {}
    for row in rows:
        key = (row.video_id, row.view_id)
        if key not in sessions and key not in first:
            first[key] = row
    if first:
        WatchSession.objects.bulk_create(
            [
                WatchSession(
                    video_id=row.video_id,
                    user_id=row.user_id,
                    view_id=row.view_id,
                    device=row.device,
                    started_at=row.received_at,
                )
                for row in first.values()
            ],
            ignore_conflicts=True,  # a view another worker started meanwhile
        )
        sessions = locked()
    return sessions


def _apply(rows: list[ReceivedHeartbeat]) -> None:
    videos = LessonVideo.objects.select_related("lesson__course").in_bulk(
        {row.video_id for row in rows}
    )
    external_ids = dict(
        User.objects.filter(pk__in={row.user_id for row in rows}).values_list("pk", "external_id")
    )
    sessions = _sessions(rows)
    intervals: list[WatchInterval] = []
    positions: dict[tuple[int, int], tuple[int, float, Any]] = {}
    events: list[dict[str, Any]] = []
    changed: dict[int, WatchSession] = {}
    for row in sorted(rows, key=lambda r: (r.video_id, r.view_id, r.seq)):
        video = videos.get(row.video_id)
        session = sessions.get((row.video_id, row.view_id))
        if (
            video is None
            or video.status != LessonVideo.Status.READY
            or session is None
            or session.user_id != row.user_id  # a token names its view: cannot happen
            or row.seq <= session.last_seq
        ):
            continue
        if row.end_seconds > row.start_seconds:
            intervals += _intervals(row, session, video)
        session.last_seq = row.seq
        session.updated_at = row.received_at
        changed[session.pk] = session
        position = 0.0 if row.kind == "ended" else row.position_seconds
        key = (row.user_id, row.video_id)
        if key not in positions or positions[key][0] < row.pk:
            positions[key] = (row.pk, position, row.received_at)
        if external_ids.get(row.user_id):
            events.append(_event(row, session, video, external_ids[row.user_id]))
    WatchInterval.objects.bulk_create(intervals, batch_size=2000)
    WatchSession.objects.bulk_update(
        changed.values(),
        ["coverage", "covered_buckets", "watched_seconds", "last_seq", "updated_at"],
        batch_size=1000,
    )
    WatchPosition.objects.bulk_create(
        [
            WatchPosition(user_id=user, video_id=video, position_seconds=pos, updated_at=at)
            for (user, video), (_, pos, at) in positions.items()
        ],
        update_conflicts=True,
        unique_fields=["user", "video"],
        update_fields=["position_seconds", "updated_at"],
    )
    if events:
        events_ingest(source=EVENT_SOURCE, items=events)


def _intervals(
    row: ReceivedHeartbeat, session: WatchSession, video: LessonVideo
) -> list[WatchInterval]:
    """The buckets a heartbeat played, first viewings apart from re-watches; moves the
    session's coverage and watch time on."""
    width = video.bucket_seconds
    last_bucket = video.bucket_count - 1
    first = min(int(row.start_seconds // width), last_bucket)
    # The end is exclusive: a stretch ending exactly on a boundary does not touch the next.
    last = min(max(first, math.ceil(row.end_seconds / width) - 1), last_bucket)
    new, seen, merged = retention.split_new(session.coverage, first, last)
    pieces = [(a, b, False) for a, b in new] + [(a, b, True) for a, b in seen]
    total = sum(b - a + 1 for a, b, _ in pieces)
    played = row.end_seconds - row.start_seconds
    session.coverage = [list(pair) for pair in merged]
    session.covered_buckets = retention.covered(merged)
    session.watched_seconds += played
    return [
        WatchInterval(
            session=session,
            video=video,
            start_bucket=a,
            end_bucket=b,
            rewatch=rewatch,
            seconds=played * (b - a + 1) / total,
            speed=row.speed,
            rendition=row.rendition,
            created_at=row.received_at,
        )
        for a, b, rewatch in pieces
    ]


def _event(
    row: ReceivedHeartbeat, session: WatchSession, video: LessonVideo, user_external_id: str
) -> dict[str, Any]:
    duration = video.duration_seconds or 0
    client_id = f"video-{row.view_id}-{row.seq}"
    return {
        "id": client_id,
        "type": "video_progress",
        "user": user_external_id,
        "course": video.lesson.course.external_id,
        "lesson": video.lesson.external_id,
        "occurred_at": row.received_at.isoformat(),
        "device": row.device,
        "session_id": row.view_id,
        "properties": {
            "percent": _percent(session, video),
            "position_seconds": round(min(row.position_seconds, duration), 3),
            "duration_seconds": round(duration, 3),
            "video": str(video.upload_id),
            "speed": row.speed,
            "rendition": row.rendition,
            "kind": row.kind,
        },
    }


def _percent(session: WatchSession, video: LessonVideo) -> float:
    count = video.bucket_count
    return round(min(100.0, 100.0 * session.covered_buckets / count), 1) if count else 0.0
